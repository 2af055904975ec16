package gateway

import (
	"net/textproto"
)

// forwardedHeaders is the allowlist of HTTP headers that reach the gRPC side as metadata. Anything
// else, including grpc-gateway's default `Grpc-Metadata-*` passthrough, is dropped, so no HTTP
// client can plant metadata that internal code trusts. (grpc-gateway always forwards
// Authorization as `authorization` itself, and Grpc-Timeout as the call deadline.)
var forwardedHeaders = map[string]string{
	"Idempotency-Key": "idempotency-key",
	"X-Request-Id":    "x-request-id",
	"Traceparent":     "traceparent",
	"Tracestate":      "tracestate",
}

func incomingHeader(key string) (string, bool) {
	md, ok := forwardedHeaders[textproto.CanonicalMIMEHeaderKey(key)]
	return md, ok
}

// outgoingHeader forwards no gRPC metadata to HTTP clients: the few headers they need
// (X-Request-Id) are set by the HTTP layer itself, and internal metadata must not leak.
func outgoingHeader(string) (string, bool) { return "", false }
