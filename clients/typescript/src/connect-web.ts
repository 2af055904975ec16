// The Connect client for browsers: the same service descriptors as the gRPC client, over
// @connectrpc/connect-web's Connect or gRPC-Web transport (fetch, HTTP/1.1 or later), served by
// the gateway's HTTP listener next to REST. Calls run the gRPC server's interceptors, so auth,
// validation, idempotency and errors (ConnectError with ErrorInfo details) are as over gRPC.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ClaimService } from "./gen/proto/covergate/insurance/v1/claim_pb.js";
import { CustomerService } from "./gen/proto/covergate/insurance/v1/customer_pb.js";
import { EventService } from "./gen/proto/covergate/insurance/v1/event_pb.js";
import { PolicyService } from "./gen/proto/covergate/insurance/v1/policy_pb.js";
import { QuoteService } from "./gen/proto/covergate/insurance/v1/quote_pb.js";
import { requireToken, requireUrl } from "./rest.js";

/** Options of createCovergateWebClient. */
export interface CovergateWebClientOptions {
  /** Gateway HTTP origin, for example `https://api.example.com` (the REST base URL). */
  baseUrl: string;
  /** API key, sent as `Authorization: Bearer <token>` on every call. */
  token: string;
  /** `connect` (default) or `grpc-web`. */
  protocol?: "connect" | "grpc-web";
  /** Binary protobuf instead of JSON (Connect only; gRPC-Web is always binary). Default false. */
  useBinaryFormat?: boolean;
  /** A fetch to use instead of globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}

/** One Connect client per Covergate service. */
export interface CovergateWebClient {
  quotes: Client<typeof QuoteService>;
  policies: Client<typeof PolicyService>;
  events: Client<typeof EventService>;
  claims: Client<typeof ClaimService>;
  customers: Client<typeof CustomerService>;
}

/**
 * Creates the browser clients. Errors are thrown as ConnectError; `toCovergateError(err)` turns
 * one into a CovergateError with the reason and field violations. Pass `withIdempotencyKey(key)`
 * as call options on writes. The page's origin must be in the gateway's `--cors-origins`.
 */
export function createCovergateWebClient(options: CovergateWebClientOptions): CovergateWebClient {
  const baseUrl = requireUrl(options.baseUrl, "baseUrl").replace(/\/+$/, "");
  requireToken(options.token);
  const auth: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${options.token}`);
    return next(req);
  };
  const common = {
    baseUrl,
    interceptors: [auth],
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const transport =
    options.protocol === "grpc-web"
      ? createGrpcWebTransport(common)
      : createConnectTransport({ ...common, useBinaryFormat: options.useBinaryFormat ?? false });
  return {
    quotes: createClient(QuoteService, transport),
    policies: createClient(PolicyService, transport),
    events: createClient(EventService, transport),
    claims: createClient(ClaimService, transport),
    customers: createClient(CustomerService, transport),
  };
}
