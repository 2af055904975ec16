// Quote NFT cover, buy it, read the policy back, hit a validation error, then follow the
// policy's events over gRPC. Run against `make run`, or set COVERGATE_URL, COVERGATE_GRPC_URL and
// COVERGATE_TOKEN. The client tests run this file against a live gateway.
import { randomBytes } from "node:crypto";
import {
  CovergateError,
  createCovergateClient,
  createCovergateGrpcClient,
  newIdempotencyKey,
  unwrap,
  withIdempotencyKey,
} from "@covergate/client";

const baseUrl = process.env.COVERGATE_URL ?? "http://127.0.0.1:8080";
const grpcAddress = process.env.COVERGATE_GRPC_URL ?? "http://127.0.0.1:9090";
const token = process.env.COVERGATE_TOKEN ?? "covergate-dev-key";
const hex = (bytes: number) => `0x${randomBytes(bytes).toString("hex")}`;

// REST (typed from the OpenAPI document): the frontend path.
const rest = createCovergateClient({ baseUrl, token });
const totalValue = { currencyCode: "ETH", amount: "1.5" };

const { quote } = await unwrap(
  rest.POST("/v1/quotes", {
    body: {
      nft: {
        chain: "CHAIN_ETHEREUM",
        nftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
        token: "TOKEN_ETH",
      },
      totalValue,
    },
  }),
);
if (!quote?.quoteId) throw new Error("the gateway answered without a quote");
console.log(`quote ${quote.quoteId}: premium ${quote?.premium?.amount} ${quote?.premium?.currencyCode}`);

// One idempotency key per purchase: retrying with the same key can never buy twice.
const purchaseKey = newIdempotencyKey();
const { policy } = await unwrap(
  rest.POST("/v1/policies", {
    body: {
      quoteId: quote.quoteId,
      nft: {
        txId: hex(32),
        currentBlock: "123",
        sourceAddress: hex(20),
        targetAddress: hex(20),
        nftTokenId: "42",
      },
      totalValue,
      holder: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
    },
    ...withIdempotencyKey(purchaseKey),
  }),
);
const policyId = policy?.policyId ?? "";
const read = await unwrap(rest.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: policyId } } }));
console.log(`policy ${policyId}: ${read.policy?.status}`);

// Errors carry a machine-readable reason and every invalid field.
try {
  await unwrap(rest.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: "not-a-uuid" } } }));
} catch (err) {
  if (!(err instanceof CovergateError)) throw err;
  for (const v of err.violations) console.log(`${err.reason}: ${v.field} ${v.reason} (${v.description})`);
}

// gRPC (Node): list the policy's events, then watch them as a stream.
const grpc = createCovergateGrpcClient({ address: grpcAddress, token });
const subject = `policies/${policyId}`;
const { events } = await grpc.events.listEvents({ subject });
console.log(`${events.length} event(s) listed`);
const stop = new AbortController();
try {
  for await (const { event } of grpc.events.watchEvents({ subject }, { signal: stop.signal })) {
    console.log(`watched event ${event?.cursor}: ${event?.type}`);
    break; // a real consumer keeps reading, and resumes after the last cursor it processed
  }
} finally {
  stop.abort();
  grpc.close();
}
