// @covergate/client/web: for browsers and bundlers — the REST client, the Connect/gRPC-Web
// client (connect-web) and the Server-Sent Events follower of the event log. Nothing reachable
// from here imports Node built-ins or the Node gRPC transport (test/web.test.ts checks it).
export { createCovergateClient, unwrap } from "./rest.js";
export type { CovergateClient, CovergateClientOptions } from "./rest.js";
export { createCovergateWebClient } from "./connect-web.js";
export type { CovergateWebClient, CovergateWebClientOptions } from "./connect-web.js";
export { followEvents } from "./events.js";
export type { EventFollower, FollowEventsOptions } from "./events.js";
export { CovergateError, toCovergateError } from "./errors.js";
export type { FieldViolation, StatusCodeName } from "./errors.js";
export { IDEMPOTENCY_KEY_HEADER, newIdempotencyKey, withIdempotencyKey } from "./idempotency.js";
export type { components, operations, paths } from "./gen/openapi.js";

// Connect messages, enums and service descriptors (covergate.insurance.v1).
export * from "./gen/proto/covergate/insurance/v1/claim_pb.js";
export * from "./gen/proto/covergate/insurance/v1/common_pb.js";
export * from "./gen/proto/covergate/insurance/v1/customer_pb.js";
export * from "./gen/proto/covergate/insurance/v1/errors_pb.js";
export * from "./gen/proto/covergate/insurance/v1/event_pb.js";
export * from "./gen/proto/covergate/insurance/v1/policy_pb.js";
export * from "./gen/proto/covergate/insurance/v1/quote_pb.js";
