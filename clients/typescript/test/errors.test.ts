// CovergateError.fromRest on the bodies a REST caller can meet, without a gateway.
import assert from "node:assert/strict";
import { it } from "node:test";
import { CovergateError } from "../src/index.js";

it("decodes REST error bodies", () => {
  const cases: Array<{
    name: string;
    body: unknown;
    httpStatus: number;
    want: Pick<CovergateError, "code" | "message" | "reason" | "metadata" | "violations">;
  }> = [
    {
      name: "validation failure with every detail",
      httpStatus: 400,
      body: {
        code: 3,
        message: "invalid request",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "VALIDATION_FAILED",
            domain: "covergate.insurance.v1",
            metadata: { request_id: "r-1" },
          },
          {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [
              { field: "policy_id", description: "must be a valid UUID", reason: "STRING_UUID" },
              { field: "page_size", description: "must be at most 100" },
            ],
          },
          { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s" },
        ],
      },
      want: {
        code: "INVALID_ARGUMENT",
        message: "invalid request",
        reason: "VALIDATION_FAILED",
        metadata: { request_id: "r-1" },
        violations: [
          { field: "policy_id", description: "must be a valid UUID", reason: "STRING_UUID" },
          { field: "page_size", description: "must be at most 100", reason: "" },
        ],
      },
    },
    {
      name: "status without details",
      httpStatus: 404,
      body: { code: 5, message: "policy not found" },
      want: { code: "NOT_FOUND", message: "policy not found", reason: "", metadata: {}, violations: [] },
    },
    {
      name: "a proxy's HTML page",
      httpStatus: 503,
      body: "<html>Service Unavailable</html>",
      want: { code: "UNAVAILABLE", message: "HTTP 503", reason: "", metadata: {}, violations: [] },
    },
    {
      name: "no body at all",
      httpStatus: 500,
      body: undefined,
      want: { code: "INTERNAL", message: "HTTP 500", reason: "", metadata: {}, violations: [] },
    },
  ];
  for (const c of cases) {
    const err = CovergateError.fromRest(c.body, c.httpStatus);
    assert.ok(err instanceof Error, c.name);
    assert.equal(err.httpStatus, c.httpStatus, c.name);
    assert.deepEqual(
      { code: err.code, message: err.message, reason: err.reason, metadata: err.metadata, violations: err.violations },
      c.want,
      c.name,
    );
  }
});
