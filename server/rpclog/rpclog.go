// Package rpclog carries the outcome of a call that a REST request ran in process (server/inprocess)
// up to the HTTP access log, so that a REST call writes one log line holding both views — the
// HTTP request (method, path, status, bytes) and the RPC (method, code, reason, principal) —
// instead of one line each. Logging is a large share of a REST call's CPU time (issue 17), and
// the second line added nothing the first could not carry.
package rpclog

import (
	"context"
	"log/slog"
	"time"
)

// Record is the outcome of the one RPC a REST request runs. The HTTP layer creates it before
// the call and reads it after: the in-process call runs in the request's goroutine, in between.
type Record struct {
	filled    bool
	Method    string // full gRPC method name
	Code      string // gRPC status code
	Reason    string // ErrorInfo reason, "" when none
	Principal string // authenticated caller, "" when none
	Level     slog.Level
	Duration  time.Duration
}

type key struct{}

// With returns ctx carrying a new, empty Record for the RPC to fill.
func With(ctx context.Context) (context.Context, *Record) {
	r := &Record{}
	return context.WithValue(ctx, key{}, r), r
}

// Claim returns ctx's Record for the RPC to fill, or nil when the call's log line must be
// written by the RPC layer itself (direct gRPC calls, streams over the in-memory socket, or a
// second call in the same request).
func Claim(ctx context.Context) *Record {
	r, _ := ctx.Value(key{}).(*Record)
	if r == nil || r.filled {
		return nil
	}
	r.filled = true
	return r
}

// Filled reports whether an RPC filled the record.
func (r *Record) Filled() bool { return r != nil && r.filled }

// MaxAttrs is how many attributes AppendAttrs adds at most.
const MaxAttrs = 5

// AppendAttrs appends the RPC's fields for the access log line to attrs.
func (r *Record) AppendAttrs(attrs []slog.Attr) []slog.Attr {
	attrs = append(attrs,
		slog.String("rpc", r.Method),
		slog.String("code", r.Code),
		slog.Float64("rpc_duration_ms", float64(r.Duration.Microseconds())/1000),
	)
	if r.Principal != "" {
		attrs = append(attrs, slog.String("principal", r.Principal))
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	return attrs
}

// Write writes one log line with attrs. It is slog.Logger.LogAttrs without the caller's program
// counter: LogAttrs walks the stack for it on every line (runtime.Callers, about 1 % of a call's
// CPU), and the access and RPC lines never print their source.
func Write(ctx context.Context, log *slog.Logger, level slog.Level, msg string, attrs []slog.Attr) {
	h := log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r) // as slog.Logger does: a handler's error has nowhere to go
}
