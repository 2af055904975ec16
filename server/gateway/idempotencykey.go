package gateway

import (
	"net/http"

	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/idempotency"
)

// checkIdempotencyKey refuses a malformed Idempotency-Key header with 400 before grpc-gateway
// sees it: grpc-gateway drops header values that gRPC metadata cannot carry (non-ASCII, control
// characters) without a word, so the request would run without its key — and a client retrying
// it would run it twice. The rules are the interceptor's (idempotency.ValidateKeys), so both
// transports refuse the same keys the same way.
func checkIdempotencyKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if vals, ok := r.Header[http.CanonicalHeaderKey(idempotency.MetadataKey)]; ok {
			if err := idempotency.ValidateKeys(vals); err != nil {
				writeStatus(w, r, apierror.Normalize(err, errMeta(r)...))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
