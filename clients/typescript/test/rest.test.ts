// The REST client (createCovergateClient) against a live gateway: the frontend path.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CovergateError,
  createCovergateClient,
  newIdempotencyKey,
  unwrap,
  withIdempotencyKey,
  type CovergateClient,
} from "../src/index.js";
import { hex, nftQuote, startGateway, type Gateway } from "./gateway.js";

let gw: Gateway;
let client: CovergateClient;

before(async () => {
  gw = await startGateway();
  client = createCovergateClient({ baseUrl: gw.httpBaseUrl, token: gw.token });
});

after(async () => {
  await gw?.stop();
});

async function rejection(p: Promise<unknown>): Promise<CovergateError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CovergateError, `expected CovergateError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("REST client", () => {
  it("quotes, buys, reads the policy and lists its events", async () => {
    const { quote } = await unwrap(
      client.POST("/v1/quotes", { body: { nft: nftQuote, totalValue: { currencyCode: "ETH", amount: "1.5" } } }),
    );
    assert.ok(quote?.quoteId, "quote has an id");
    assert.equal(quote.totalValue?.amount, "1.5");
    assert.match(quote.premium?.amount ?? "", /^[0-9]+(\.[0-9]+)?$/, "premium is an exact decimal");

    const purchase = {
      quoteId: quote.quoteId,
      nft: {
        txId: hex(64),
        currentBlock: "123",
        sourceAddress: hex(40),
        targetAddress: hex(40),
        nftTokenId: "42",
      },
      totalValue: { currencyCode: "ETH", amount: "1.5" },
      holder: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
    };
    const key = newIdempotencyKey();
    const first = await unwrap(client.POST("/v1/policies", { body: purchase, ...withIdempotencyKey(key) }));
    const policyId = first.policy?.policyId ?? "";
    assert.ok(policyId, "policy has an id");
    assert.equal(first.policy?.quoteId, quote.quoteId);
    // A retry with the same key must return the same policy, not buy a second one.
    const retry = await unwrap(client.POST("/v1/policies", { body: purchase, ...withIdempotencyKey(key) }));
    assert.equal(retry.policy?.policyId, policyId);

    const { policy } = await unwrap(
      client.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: policyId } } }),
    );
    assert.equal(policy?.policyId, policyId);
    assert.equal(policy?.partner, "PARTNER_AVATA");
    assert.ok(policy?.etag, "policy carries an etag");

    const subject = `policies/${policyId}`;
    const { events } = await unwrap(client.GET("/v1/events", { params: { query: { subject } } }));
    assert.ok(events && events.length > 0, "the purchase is in the event log");
    for (const e of events) assert.equal(e.subject, subject);
    assert.ok(events.some((e) => e.type === "policy.created"), `policy.created among ${events.map((e) => e.type)}`);
  });

  it("reports every field violation of an invalid request", async () => {
    const err = await rejection(
      unwrap(
        client.POST("/v1/quotes", {
          body: { nft: { ...nftQuote, nftContractAddress: "0x123" }, totalValue: { currencyCode: "ETH", amount: "1.5" } },
        }),
      ),
    );
    assert.equal(err.httpStatus, 400);
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.reason, "VALIDATION_FAILED");
    assert.deepEqual(
      err.violations.map((v) => [v.field, v.reason]),
      [["nft.nft_contract_address", "STRING_PATTERN"]],
    );
  });

  it("rejects a malformed path parameter with its violation", async () => {
    const err = await rejection(
      unwrap(client.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: "not-a-uuid" } } })),
    );
    assert.equal(err.httpStatus, 400);
    assert.equal(err.reason, "VALIDATION_FAILED");
    assert.deepEqual(
      err.violations.map((v) => [v.field, v.reason]),
      [["policy_id", "STRING_UUID"]],
    );
    assert.ok(err.violations[0]?.description, "violation explains itself");
  });

  it("sends the token: a wrong one is refused as UNAUTHENTICATED", async () => {
    const stranger = createCovergateClient({ baseUrl: gw.httpBaseUrl, token: "not-a-known-key" });
    const err = await rejection(unwrap(stranger.GET("/v1/events", {})));
    assert.equal(err.httpStatus, 401);
    assert.equal(err.code, "UNAUTHENTICATED");
    assert.equal(err.reason, "UNAUTHENTICATED");
  });

  it("refuses bad options before any request is made", () => {
    const cases: Array<[string, () => unknown]> = [
      ["baseUrl without scheme", () => createCovergateClient({ baseUrl: "127.0.0.1:8080", token: "k" })],
      ["empty token", () => createCovergateClient({ baseUrl: "http://127.0.0.1:1", token: "" })],
      ["token with a newline", () => createCovergateClient({ baseUrl: "http://127.0.0.1:1", token: "a\nb" })],
      ["empty idempotency key", () => withIdempotencyKey("")],
      ["idempotency key with a space", () => withIdempotencyKey("a b")],
    ];
    for (const [name, make] of cases) {
      assert.throws(make, TypeError, name);
    }
  });
});
