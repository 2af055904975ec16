// One error type for both transports, so callers switch on `reason` (the ErrorReason value without its `ERROR_REASON_` prefix, see
// proto/covergate/insurance/v1/errors.proto) and read `violations` the same way whether the
// failure came from REST (google.rpc.Status as JSON) or gRPC (grpc-status-details-bin).
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/proto/google/rpc/error_details_pb.js";

/** One invalid request field, as listed by `google.rpc.BadRequest`. */
export interface FieldViolation {
  /** Path of the field in the request, in proto names (for example `policy_id`, `total_value.amount`). */
  field: string;
  /** Human-readable explanation. */
  description: string;
  /** Machine-readable rule id (UPPER_SNAKE_CASE, for example `STRING_UUID`), when the server sends one. */
  reason: string;
}

// Canonical gRPC status code names by number; the REST body's `code` uses the same numbers.
const codeNames = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
] as const;

/** Canonical gRPC status code name, for example `INVALID_ARGUMENT`. */
export type StatusCodeName = (typeof codeNames)[number];

function codeName(code: number): StatusCodeName {
  return codeNames[code] ?? "UNKNOWN";
}

// For an error answer that is not a google.rpc.Status (a proxy or load balancer answered), the
// code grpc-gateway would have mapped to that HTTP status.
function codeForHttpStatus(status: number): StatusCodeName {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 412: return "FAILED_PRECONDITION";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 502:
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "UNKNOWN";
  }
}

/** A failed Covergate call. */
export class CovergateError extends Error {
  override readonly name = "CovergateError";
  /** Canonical gRPC status code name (`INVALID_ARGUMENT`, `NOT_FOUND`, ...). */
  readonly code: StatusCodeName;
  /** HTTP status of a REST call; undefined for gRPC. */
  readonly httpStatus: number | undefined;
  /** `google.rpc.ErrorInfo.reason`, for example `VALIDATION_FAILED` (AIP-193: the ErrorReason value without its `ERROR_REASON_` prefix); "" if absent. */
  readonly reason: string;
  /** `google.rpc.ErrorInfo.metadata` (for example `request_id`, `resource`, `field`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every invalid field, from `google.rpc.BadRequest`; empty when the request was valid. */
  readonly violations: readonly FieldViolation[];

  constructor(init: {
    code: StatusCodeName;
    message: string;
    httpStatus?: number;
    reason?: string;
    metadata?: Record<string, string>;
    violations?: FieldViolation[];
    cause?: unknown;
  }) {
    super(init.message, { cause: init.cause });
    this.code = init.code;
    this.httpStatus = init.httpStatus;
    this.reason = init.reason ?? "";
    this.metadata = init.metadata ?? {};
    this.violations = init.violations ?? [];
  }

  /**
   * Builds the error from a REST error body (google.rpc.Status as JSON) and its HTTP status.
   * A body that is not a Status (a proxy's HTML page, say) still yields an error with the HTTP
   * status, so nothing is silently dropped.
   */
  static fromRest(body: unknown, httpStatus: number): CovergateError {
    const status = isRecord(body) ? body : {};
    const code = typeof status.code === "number" ? codeName(status.code) : codeForHttpStatus(httpStatus);
    const message = typeof status.message === "string" ? status.message : `HTTP ${httpStatus}`;
    let reason = "";
    let metadata: Record<string, string> = {};
    const violations: FieldViolation[] = [];
    for (const detail of Array.isArray(status.details) ? status.details : []) {
      if (!isRecord(detail)) continue;
      const type = String(detail["@type"] ?? "");
      if (type.endsWith("/google.rpc.ErrorInfo")) {
        reason = String(detail.reason ?? "");
        metadata = isRecord(detail.metadata) ? stringValues(detail.metadata) : {};
      } else if (type.endsWith("/google.rpc.BadRequest")) {
        for (const v of Array.isArray(detail.fieldViolations) ? detail.fieldViolations : []) {
          if (!isRecord(v)) continue;
          violations.push({
            field: String(v.field ?? ""),
            description: String(v.description ?? ""),
            reason: String(v.reason ?? ""),
          });
        }
      }
    }
    return new CovergateError({ code, message, httpStatus, reason, metadata, violations, cause: body });
  }

  /** Builds the error from a gRPC failure (details decoded from grpc-status-details-bin). */
  static fromConnect(err: ConnectError): CovergateError {
    const info = err.findDetails(ErrorInfoSchema)[0];
    const violations = err.findDetails(BadRequestSchema).flatMap((br) =>
      br.fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: v.reason })),
    );
    return new CovergateError({
      code: codeName(err.code),
      message: err.rawMessage,
      reason: info?.reason ?? "",
      metadata: info ? { ...info.metadata } : {},
      violations,
      cause: err,
    });
  }
}

/**
 * Converts anything a gRPC call threw into a CovergateError (non-RPC failures such as a refused
 * connection become code UNAVAILABLE/UNKNOWN via ConnectError.from, keeping the cause).
 */
export function toCovergateError(err: unknown): CovergateError {
  if (err instanceof CovergateError) return err;
  return CovergateError.fromConnect(ConnectError.from(err));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringValues(r: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
}
