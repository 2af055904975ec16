// The gRPC client (createCovergateGrpcClient) against a live gateway: the Node service path.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  Chain,
  CovergateError,
  createCovergateGrpcClient,
  newIdempotencyKey,
  toCovergateError,
  Token,
  withIdempotencyKey,
  type CovergateGrpcClient,
  type Event,
} from "../src/index.js";
import { hex, startGateway, type Gateway } from "./gateway.js";

let gw: Gateway;
let client: CovergateGrpcClient;

before(async () => {
  gw = await startGateway();
  client = createCovergateGrpcClient({ address: gw.grpcAddress, token: gw.token });
});

after(async () => {
  client?.close();
  await gw?.stop();
});

async function rejection(p: Promise<unknown>): Promise<CovergateError> {
  try {
    await p;
  } catch (err) {
    return toCovergateError(err);
  }
  assert.fail("expected the call to fail");
}

const nft = {
  chain: Chain.ETHEREUM,
  nftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
  token: Token.ETH,
};
const totalValue = { currencyCode: "ETH", amount: "1.5" };

describe("gRPC client", () => {
  it("quotes, buys, reads the policy, lists and watches its events", async () => {
    const { quote } = await client.quotes.createQuote({ cover: { case: "nft", value: nft }, totalValue });
    assert.ok(quote?.quoteId, "quote has an id");

    const purchase = {
      quoteId: quote.quoteId,
      purchase: {
        case: "nft" as const,
        value: { txId: hex(64), currentBlock: "123", sourceAddress: hex(40), targetAddress: hex(40), nftTokenId: "42" },
      },
      totalValue,
      holder: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
    };
    const key = newIdempotencyKey();
    const first = await client.policies.createPolicy(purchase, withIdempotencyKey(key));
    const policyId = first.policy?.policyId ?? "";
    assert.ok(policyId, "policy has an id");
    const retry = await client.policies.createPolicy(purchase, withIdempotencyKey(key));
    assert.equal(retry.policy?.policyId, policyId, "same idempotency key, same policy");

    const { policy } = await client.policies.getPolicy({ policyId });
    assert.equal(policy?.policyId, policyId);
    assert.equal(policy?.quoteId, quote.quoteId);

    const subject = `policies/${policyId}`;
    const { events } = await client.events.listEvents({ subject });
    assert.ok(events.length > 0, "the purchase is in the event log");
    for (const e of events) assert.equal(e.subject, subject);
    assert.ok(events.some((e) => e.type === "policy.created"), `policy.created among ${events.map((e) => e.type)}`);

    // The stream replays the stored events first, in the same order and with the same cursors as
    // the list; read that many and end the stream.
    const abort = new AbortController();
    const watched: Event[] = [];
    try {
      for await (const res of client.events.watchEvents({ afterCursor: 0n, subject }, { signal: abort.signal })) {
        if (res.event) watched.push(res.event);
        if (watched.length === events.length) break;
      }
    } finally {
      abort.abort();
    }
    assert.deepEqual(
      watched.map((e) => [e.cursor, e.eventId, e.subject]),
      events.map((e) => [e.cursor, e.eventId, e.subject]),
    );
  });

  it("reports every field violation of an invalid request", async () => {
    const err = await rejection(
      client.quotes.createQuote({
        cover: { case: "nft", value: { ...nft, nftContractAddress: "0x123" } },
        totalValue,
      }),
    );
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.reason, "VALIDATION_FAILED");
    assert.deepEqual(
      err.violations.map((v) => [v.field, v.reason]),
      [["nft.nft_contract_address", "STRING_PATTERN"]],
    );
  });

  it("rejects a malformed id with its violation", async () => {
    const err = await rejection(client.policies.getPolicy({ policyId: "not-a-uuid" }));
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.reason, "VALIDATION_FAILED");
    assert.deepEqual(
      err.violations.map((v) => [v.field, v.reason]),
      [["policy_id", "STRING_UUID"]],
    );
  });

  it("sends the token: a wrong one is refused as UNAUTHENTICATED", async () => {
    const stranger = createCovergateGrpcClient({ address: gw.grpcAddress, token: "not-a-known-key" });
    try {
      const err = await rejection(stranger.events.listEvents({}));
      assert.equal(err.code, "UNAUTHENTICATED");
      assert.equal(err.reason, "UNAUTHENTICATED");
    } finally {
      stranger.close();
    }
  });

  it("reports an unreachable gateway as UNAVAILABLE", async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => res(port));
      });
    });
    const nowhere = createCovergateGrpcClient({ address: `http://127.0.0.1:${port}`, token: "some-api-key" });
    try {
      const err = await rejection(nowhere.policies.getPolicy({ policyId: randomUUID() }));
      assert.equal(err.code, "UNAVAILABLE");
      assert.equal(err.reason, "");
    } finally {
      nowhere.close();
    }
  });

  it("refuses bad options before any call is made", () => {
    const cases: Array<[string, () => unknown]> = [
      ["address without scheme", () => createCovergateGrpcClient({ address: "127.0.0.1:9090", token: "k" })],
      ["empty token", () => createCovergateGrpcClient({ address: "http://127.0.0.1:1", token: "" })],
    ];
    for (const [name, make] of cases) {
      assert.throws(make, TypeError, name);
    }
  });
});
