package interceptor

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"buf.build/go/protovalidate"
	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/rpclog"
)

// Authorizer authenticates a call; auth.Authenticator implements it.
type Authorizer interface {
	UnaryInterceptor() grpc.UnaryServerInterceptor
	StreamInterceptor() grpc.StreamServerInterceptor
}

// Config is what the chain needs.
type Config struct {
	Logger    *slog.Logger
	Validator protovalidate.Validator // built once at start: compiling rules is the expensive part
	// Auth authenticates calls; each Authorizer guards its own methods (API keys for the internal
	// API, the verified-delivery channel for partner webhooks) and passes the others through.
	Auth []Authorizer
	// Unary and Stream run last, after validation (idempotency keys, for example).
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
	// OuterUnary and OuterStream run first, around everything (metrics, which must see the final
	// code of every call, rejected ones included).
	OuterUnary  []grpc.UnaryServerInterceptor
	OuterStream []grpc.StreamServerInterceptor
	// TraceID returns the trace id of a call's context ("" when none); errors carry it.
	TraceID func(context.Context) string
}

// Chain returns the server options installing the interceptors in order:
// request id + error normalization + logging (outermost, so they see the final outcome),
// recovery (so a panic anywhere below becomes an INTERNAL status), auth, validation, then the
// extra interceptors.
func Chain(cfg Config) []grpc.ServerOption {
	unary, stream := interceptors(cfg)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
}

// UnaryChain is Chain's unary interceptors as one, for a connection that calls the service
// handlers in process (server/inprocess) and must run exactly what the server runs. Build it
// from the same Config value as Chain, so both share the interceptors' instances.
func UnaryChain(cfg Config) grpc.UnaryServerInterceptor {
	unary, _ := interceptors(cfg)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return unary[0](ctx, req, info, chainedHandler(unary, 0, info, handler))
	}
}

// chainedHandler calls interceptor i+1 with the rest of the chain, the last one the handler
// (grpc.ChainUnaryInterceptor's order: the first interceptor is the outermost).
func chainedHandler(unary []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(unary)-1 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return unary[i+1](ctx, req, info, chainedHandler(unary, i+1, info, final))
	}
}

func interceptors(cfg Config) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		cfg.Logger.ErrorContext(ctx, "panic in handler", "request_id", RequestID(ctx), "panic", p, "stack", string(debug.Stack()))
		return apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, "internal error")
	})
	traceID := cfg.TraceID
	if traceID == nil {
		traceID = func(context.Context) string { return "" }
	}
	unary := append(append([]grpc.UnaryServerInterceptor{}, cfg.OuterUnary...), observeUnary(cfg.Logger, traceID), recovery.UnaryServerInterceptor(rec))
	stream := append(append([]grpc.StreamServerInterceptor{}, cfg.OuterStream...), observeStream(cfg.Logger, traceID), recovery.StreamServerInterceptor(rec))
	for _, a := range cfg.Auth {
		unary = append(unary, a.UnaryInterceptor())
		stream = append(stream, a.StreamInterceptor())
	}
	unary = append(append(unary, validateUnary(cfg.Validator)), cfg.Unary...)
	stream = append(append(stream, validateStream(cfg.Validator)), cfg.Stream...)
	return unary, stream
}

func observeUnary(log *slog.Logger, traceID func(context.Context) string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		start := time.Now()
		ctx = auth.WithPrincipalSlot(withRequestID(ctx))
		resp, err := next(ctx, req)
		err = finish(ctx, log, traceID, info.FullMethod, start, err)
		return resp, err
	}
}

func observeStream(log *slog.Logger, traceID func(context.Context) string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		start := time.Now()
		wrapped := grpcmw.WrapServerStream(ss)
		wrapped.WrappedContext = auth.WithPrincipalSlot(withRequestID(ss.Context()))
		err := next(srv, wrapped)
		return finish(wrapped.WrappedContext, log, traceID, info.FullMethod, start, err)
	}
}

// finish normalizes err (every error leaves with an ErrorInfo carrying the request id) and
// writes one log line per call — or, for a REST call run in process, hands the fields to the
// HTTP access log line (server/rpclog). Request and response bodies are never logged: they hold
// personal data and secrets.
func finish(ctx context.Context, log *slog.Logger, traceID func(context.Context) string, method string, start time.Time, err error) error {
	code := codes.OK
	var partnerCause string
	if err != nil {
		if _, ok := apierror.FromPartner(err); ok {
			// The caller sees a generic partner message; what went wrong underneath (transport
			// error, attempt timeout) is for our logs only. It never holds a body or a URL query.
			partnerCause = err.Error()
		}
		st := apierror.Normalize(err, "request_id", RequestID(ctx), "trace_id", traceID(ctx))
		code = st.Code()
		if code == codes.Internal || code == codes.Unknown {
			// The caller sees "internal error"; the cause stays in our logs.
			log.ErrorContext(ctx, "internal error", "request_id", RequestID(ctx), "method", method, "error", err)
		}
		err = st.Err()
	}
	level := slog.LevelInfo
	if code == codes.Internal || code == codes.Unknown || code == codes.DataLoss {
		level = slog.LevelError
	}
	// Only a REST call run in process (in the HTTP request's goroutine) hands its fields to the
	// access log; a Connect or gRPC-Web call reaches the gRPC server through its ServeHTTP, on
	// another goroutine, and writes its own line.
	if rec := inProcessRecord(ctx); rec != nil {
		// A REST call run in process: the HTTP access log writes the one line, with these fields.
		rec.Method, rec.Code, rec.Level, rec.Duration = method, code.String(), level, time.Since(start)
		rec.Principal, rec.Reason = auth.PrincipalName(ctx), apierror.ReasonOf(err)
		return err
	}
	attrs := make([]slog.Attr, 0, 8) // room for every field: no second allocation
	attrs = append(attrs,
		slog.String("request_id", RequestID(ctx)),
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("transport", Transport(ctx)),
	)
	if name := auth.PrincipalName(ctx); name != "" {
		attrs = append(attrs, slog.String("principal", name))
	}
	if reason := apierror.ReasonOf(err); reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	if partnerCause != "" {
		attrs = append(attrs, slog.String("partner_error", partnerCause))
	}
	rpclog.Write(ctx, log, level, "rpc", attrs)
	return err
}

// Transport tells REST calls (which arrive over the gateway's in-memory connection) from direct
// gRPC calls: "http" or "grpc".
func Transport(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.Network() == InProcessNetwork {
		return "http"
	}
	return "grpc"
}

// InProcessNetwork is the network name of the gateway's in-memory connection.
const InProcessNetwork = "bufconn"

func validateUnary(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if err := validateRequest(v, req); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func validateStream(v protovalidate.Validator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		return next(srv, &validatingStream{ServerStream: ss, v: v})
	}
}

// validatingStream validates every message the client sends on a stream.
type validatingStream struct {
	grpc.ServerStream
	v protovalidate.Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validateRequest(s.v, m)
}

// inProcessRecord is the access-log record of a REST call run in process, or nil.
func inProcessRecord(ctx context.Context) *rpclog.Record {
	if Transport(ctx) != "http" {
		return nil
	}
	return rpclog.Claim(ctx)
}
