// Package requestid carries the id that ties together the logs, errors and responses of one
// request, on both transports.
package requestid

import (
	"context"
	"regexp"

	"github.com/google/uuid"
)

// Header is the metadata key, and over HTTP the header (X-Request-Id), carrying the id.
const Header = "x-request-id"

// valid accepts ids a caller or load balancer may have assigned; anything else is replaced, so
// a hostile id cannot inject into logs or headers.
var valid = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

type key struct{}

// OrNew returns id when it is well-formed, else a new random id.
func OrNew(id string) string {
	if valid.MatchString(id) {
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
