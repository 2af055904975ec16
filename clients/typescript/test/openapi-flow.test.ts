// The whole REST flow with nothing but openapi-fetch and the types openapi-typescript generates
// from the served /openapi.json, compiled with `tsc --strict` (tsconfig.json): quote → policy →
// document → claim → events → publications → external data → typed errors. If the document
// declares a body, a response or an error the server does not use, this file stops compiling or
// its assertions fail.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "../src/gen/openapi.js";
import { startGateway, type Gateway } from "./gateway.js";

type Schemas = components["schemas"];
type Status = Schemas["google.rpc.Status"];
type ErrorInfo = Schemas["google.rpc.ErrorInfo"];
type BadRequest = Schemas["google.rpc.BadRequest"];
/** ErrorInfo.reason is a union of the ErrorReason values, not a bare string. */
type Reason = ErrorInfo["reason"];

const notFound: Reason = "NOT_FOUND";
// @ts-expect-error the enum prefix is not part of the wire reason (AIP-193)
const prefixed: Reason = "ERROR_REASON_NOT_FOUND";
void prefixed;

// google.protobuf.Struct fields are open JSON objects, so any payload type-checks.
const payload: NonNullable<Schemas["covergate.insurance.v1.Publication"]["payload"]> = {
  claim: { change: "CaseClosed", amounts: [1, 2.5], nested: { ok: true } },
};

const merchantWallet = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const seller = "0x2222222222222222222222222222222222222222";
const pdf = "%PDF-1.4\n% covergate ts receipt\n";

let gw: Gateway;
let api: Client<paths>;

before(async () => {
  gw = await startGateway();
  api = createClient<paths>({ baseUrl: gw.httpBaseUrl, headers: { Authorization: `Bearer ${gw.token}` } });
});

after(async () => {
  await gw?.stop();
});

function errorInfo(status: Status | undefined): ErrorInfo {
  const info = status?.details?.find((d): d is ErrorInfo => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  assert.ok(info, `no ErrorInfo in ${JSON.stringify(status)}`);
  return info;
}

function badRequest(status: Status | undefined): BadRequest | undefined {
  return status?.details?.find((d): d is BadRequest => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
}

async function eventually(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function hex(n: number): string {
  let s = "0x";
  while (s.length < n + 2) s += crypto.randomUUID().replaceAll("-", "");
  return s.slice(0, n + 2);
}

describe("OpenAPI flow (openapi-fetch, tsc --strict)", () => {
  it("walks quote → policy → document → claim → events → publications → external data", async () => {
    const q = await api.POST("/v1/quotes", {
      body: {
        nft: { chain: "CHAIN_ETHEREUM", nftContractAddress: hex(40), token: "TOKEN_ETH" },
        totalValue: { currencyCode: "ETH", amount: "1.5" },
      },
    });
    assert.equal(q.response.status, 200, JSON.stringify(q.error));
    const quoteId = q.data?.quote?.quoteId ?? "";
    assert.ok(quoteId);
    assert.ok(q.response.headers.get("X-Request-Id"), "responses carry X-Request-Id");

    const created = await api.POST("/v1/policies", {
      params: { header: { "Idempotency-Key": `ts-flow-${crypto.randomUUID()}` } },
      body: {
        quoteId,
        nft: { txId: hex(64), currentBlock: "19000000", sourceAddress: seller, targetAddress: merchantWallet, nftTokenId: "42" },
        totalValue: { currencyCode: "ETH", amount: "1.5" },
      },
    });
    assert.equal(created.response.status, 200, JSON.stringify(created.error));
    const policyId = created.data?.policy?.policyId ?? "";
    await eventually("policy ACTIVE", async () => {
      const { data } = await api.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: policyId } } });
      return data?.policy?.status === "POLICY_STATUS_ACTIVE";
    });

    const up = await api.POST("/v1/policies/{policy_id}/claim-documents", {
      params: { path: { policy_id: policyId } },
      body: { documents: [{ fileName: "receipt.pdf", contentType: "application/pdf", content: Buffer.from(pdf).toString("base64") }] },
    });
    assert.equal(up.response.status, 200, JSON.stringify(up.error));
    const documentKey = up.data?.documents?.[0]?.documentKey ?? "";
    assert.ok(documentKey);

    const claim = await api.POST("/v1/policies/{policy_id}/claims", {
      params: { path: { policy_id: policyId } },
      body: { reason: "The NFT never arrived.", claimantEmail: "ada@example.com", documentKeys: [documentKey] },
    });
    assert.equal(claim.response.status, 200, JSON.stringify(claim.error));
    const claimId = claim.data?.claim?.claimId ?? "";
    const got = await api.GET("/v1/claims/{claim_id}", { params: { path: { claim_id: claimId } } });
    assert.equal(got.data?.claim?.policyId, policyId);

    const events = await api.GET("/v1/events", { params: { query: { subject: `policies/${policyId}` } } });
    assert.ok(events.data?.events?.some((e) => e.type === "policy.created"));

    const pub = await api.POST("/v1/publications", { body: { eventType: "claim_updated", payload } });
    assert.equal(pub.response.status, 200, JSON.stringify(pub.error));
    const publicationId = pub.data?.publication?.publicationId ?? "";
    const read = await api.GET("/v1/publications/{publication_id}", { params: { path: { publication_id: publicationId } } });
    const claimPart: unknown = read.data?.publication?.payload?.["claim"];
    assert.deepEqual(claimPart, payload["claim"]);

    const contextId = crypto.randomUUID();
    const put = await api.PUT("/v1/external-data/{key}", { params: { path: { key: "greeting" } }, body: { contextId, data: "hello" } });
    assert.equal(put.response.status, 200, JSON.stringify(put.error));
    const value = await api.GET("/v1/external-data/{key}", { params: { path: { key: "greeting" }, query: { contextId } } });
    assert.equal(value.data?.data, "hello");
    const del = await api.DELETE("/v1/external-data/{key}", { params: { path: { key: "greeting" }, query: { contextId } } });
    assert.equal(del.response.status, 200);
  });

  it("reads typed errors: reason, field violations, status", async () => {
    const invalid = await api.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: "not-a-uuid" } } });
    assert.equal(invalid.response.status, 400);
    const reason: Reason = errorInfo(invalid.error).reason;
    assert.equal(reason, "VALIDATION_FAILED");
    assert.equal(errorInfo(invalid.error).domain, "covergate.insurance.v1");
    assert.deepEqual(badRequest(invalid.error)?.fieldViolations?.map((v) => [v.field, v.reason]), [["policy_id", "STRING_UUID"]]);

    const missing = await api.GET("/v1/policies/{policy_id}", { params: { path: { policy_id: "0190a000-0000-7000-8000-000000000000" } } });
    assert.equal(missing.response.status, 404);
    assert.equal(errorInfo(missing.error).reason, notFound);

    const stranger = createClient<paths>({ baseUrl: gw.httpBaseUrl });
    const unauth = await stranger.GET("/v1/events", {});
    assert.equal(unauth.response.status, 401);
    assert.equal(errorInfo(unauth.error).reason, "UNAUTHENTICATED");
  });
});
