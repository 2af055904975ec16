package interceptor

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/covergate/covergate/server/requestid"
)

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string { return requestid.From(ctx) }

// withRequestID takes the caller's request id when it is well-formed (REST calls always carry
// the one the HTTP layer assigned), or creates one, stores it in ctx and sends it back as a
// response header.
func withRequestID(ctx context.Context) context.Context {
	if id := requestid.From(ctx); id != "" {
		// A REST call run in process (server/inprocess) already carries the id the HTTP layer
		// assigned and answers with; the gRPC response header would be dropped by the gateway.
		return ctx
	}
	var id string
	if v := metadata.ValueFromIncomingContext(ctx, requestid.Header); len(v) > 0 {
		id = v[0]
	}
	id = requestid.OrNew(id)
	// SetHeader fails only if headers were already sent, which cannot happen this early.
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestid.Header, id))
	return requestid.With(ctx, id)
}
