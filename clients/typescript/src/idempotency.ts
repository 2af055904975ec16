// Idempotency keys make a retried write (after a timeout or a dropped connection) return the
// first attempt's result instead of buying a second policy. Generate one key per logical
// operation, keep it with the operation, and send the same key on every retry of it.
/** Header name for REST; gRPC metadata keys are the same name lower-cased. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/** A fresh random key (UUID v4) for one logical write. */
export function newIdempotencyKey(): string {
  // Web Crypto (globalThis.crypto) rather than node:crypto: this module is part of the browser
  // entry point too. Node 20 and every current browser provide it.
  return globalThis.crypto.randomUUID();
}

/**
 * Request options carrying an idempotency key, for both clients:
 *   rest.POST("/v1/policies", { body, ...withIdempotencyKey(key) })
 *   grpc.policies.createPolicy(request, withIdempotencyKey(key))
 * Throws on an empty key or one that cannot travel in an HTTP header, so a bad key fails here
 * rather than as a confusing transport error.
 */
export function withIdempotencyKey(key: string): { headers: Record<string, string> } {
  if (key.length === 0 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new TypeError("covergate: idempotency key must be non-empty printable ASCII without spaces");
  }
  return { headers: { [IDEMPOTENCY_KEY_HEADER]: key } };
}
