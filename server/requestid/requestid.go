// Package requestid carries the id that ties together the logs, errors and responses of one
// request, on both transports.
package requestid

import (
	"context"

	"github.com/google/uuid"
)

// Header is the metadata key, and over HTTP the header (X-Request-Id), carrying the id.
const Header = "x-request-id"

// valid accepts ids a caller or load balancer may have assigned — 1 to 128 of A-Z a-z 0-9 . _ :
// - — anything else is replaced, so a hostile id cannot inject into logs or headers. (A loop, not
// a regular expression: it runs twice per REST call, and the regexp was a measurable share.)
func valid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

type key struct{}

// OrNew returns id when it is well-formed, else a new random id.
func OrNew(id string) string {
	if valid(id) {
		return id
	}
	return uuid.NewString()
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id carried by ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
