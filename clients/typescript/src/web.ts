// @covergate/client/web: the REST client alone, for browsers and bundlers. Nothing reachable from
// here imports Node built-ins or the Node gRPC transport (test/web.test.ts checks it).
export { createCovergateClient, unwrap } from "./rest.js";
export type { CovergateClient, CovergateClientOptions } from "./rest.js";
export { CovergateError } from "./errors.js";
export type { FieldViolation, StatusCodeName } from "./errors.js";
export { IDEMPOTENCY_KEY_HEADER, newIdempotencyKey, withIdempotencyKey } from "./idempotency.js";
export type { components, operations, paths } from "./gen/openapi.js";
