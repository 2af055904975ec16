// The gRPC client for Node services: Connect clients over @connectrpc/connect-node's gRPC
// transport (HTTP/2), built from the service descriptors protoc-gen-es generated from proto/.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ClaimService } from "./gen/proto/covergate/insurance/v1/claim_pb.js";
import { CustomerService } from "./gen/proto/covergate/insurance/v1/customer_pb.js";
import { EventService } from "./gen/proto/covergate/insurance/v1/event_pb.js";
import { PolicyService } from "./gen/proto/covergate/insurance/v1/policy_pb.js";
import { QuoteService } from "./gen/proto/covergate/insurance/v1/quote_pb.js";
import { requireToken, requireUrl } from "./rest.js";

/** Options of createCovergateGrpcClient. */
export interface CovergateGrpcClientOptions {
  /**
   * Gateway gRPC address as a URL: `https://grpc.example.com` (TLS) or `http://127.0.0.1:9090`
   * (plaintext, for local development only: the API key travels in clear).
   */
  address: string;
  /** API key, sent as `authorization: Bearer <token>` metadata on every call. */
  token: string;
}

/** One Connect client per Covergate service, sharing one HTTP/2 connection. */
export interface CovergateGrpcClient {
  quotes: Client<typeof QuoteService>;
  policies: Client<typeof PolicyService>;
  events: Client<typeof EventService>;
  claims: Client<typeof ClaimService>;
  customers: Client<typeof CustomerService>;
  /** Closes the HTTP/2 connection; calls in flight fail. Call it when done so Node can exit. */
  close(): void;
}

/**
 * Creates the gRPC clients. Errors are thrown as ConnectError; `toCovergateError(err)` turns one
 * into a CovergateError with the reason and field violations. Pass `withIdempotencyKey(key)` as
 * call options on writes, and `{ signal }` or `{ timeoutMs }` to bound a call or end a stream.
 */
export function createCovergateGrpcClient(options: CovergateGrpcClientOptions): CovergateGrpcClient {
  const address = requireUrl(options.address, "address").replace(/\/+$/, "");
  requireToken(options.token);
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${options.token}`);
    return next(req);
  };
  // Our own session manager, so close() can end the connection instead of waiting for it to idle.
  const sessionManager = new Http2SessionManager(address);
  const transport = createGrpcTransport({ baseUrl: address, sessionManager, interceptors: [auth] });
  return {
    quotes: createClient(QuoteService, transport),
    policies: createClient(PolicyService, transport),
    events: createClient(EventService, transport),
    claims: createClient(ClaimService, transport),
    customers: createClient(CustomerService, transport),
    close: () => sessionManager.abort(),
  };
}
