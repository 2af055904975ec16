package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// instrumentation is the tracer name of the gateway's server spans.
const instrumentation = "github.com/covergate/covergate/server/tracing"

// The server spans are started here instead of by otelhttp and otelgrpc. Both libraries compute
// span and metric attributes on every call, and copy the whole incoming metadata to extract the
// trace context, whether or not anything records them: measured on GetPolicy (make bench, 2026-12)
// that was about a tenth of the gateway's CPU per call. The gateway exports its metrics through
// Prometheus, not OpenTelemetry, so here spans get their attributes only when they are recorded,
// and the trace context is read from the three headers that carry it. The client side (partner
// HTTP calls, the gateway's own stream connection) keeps the libraries.

// HTTP starts a server span around every request: the caller's trace context (W3C traceparent,
// tracestate, baggage) is continued, or a new trace begins. The span is named after the method
// until the route is known (SetRoute): a path holding ids would make every span name unique.
func (t *Tracing) HTTP(next http.Handler) http.Handler {
	tracer := t.Provider.Tracer(instrumentation)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if hasTraceContext(r.Header) {
			ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if !span.IsRecording() {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		span.SetAttributes(httpRequestAttrs(r)...)
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(rec.status))
		if rec.status >= http.StatusInternalServerError {
			span.SetStatus(otelcodes.Error, http.StatusText(rec.status))
		}
	})
}

// SetRoute names the request's span after its route template ("GET /v1/policies/{policy_id}"),
// as the OpenTelemetry conventions ask: a path holding ids would make every span name unique.
func SetRoute(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

func hasTraceContext(h http.Header) bool {
	return h.Get("Traceparent") != "" || h.Get("Baggage") != ""
}

func httpRequestAttrs(r *http.Request) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPathKey.String(r.URL.Path),
		semconv.URLSchemeKey.String(scheme),
		semconv.ClientAddress(clientHost(r.RemoteAddr)),
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	return attrs
}

func clientHost(remote string) string {
	if i := strings.LastIndexByte(remote, ':'); i > 0 {
		return strings.Trim(remote[:i], "[]")
	}
	return remote
}

// statusWriter remembers the status code for the span.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Flush keeps streamed answers (NDJSON, Server-Sent Events) flowing through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer (per-request deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// UnaryInterceptor and StreamInterceptor start a server span for every gRPC call (the trace
// context comes from the call's metadata) and end it with the call's status. They are
// interceptors rather than a stats handler: with any stats handler installed, grpc-go copies
// every call's metadata and builds an event for each header, message and trailer, whether or not
// the handler wants them. Install them first, so the call's log line and metrics see the span.
// skip tells calls that already run inside a span of their own (REST calls run in process, under
// the HTTP span).
func (t *Tracing) UnaryInterceptor(skip func(context.Context) bool) grpc.UnaryServerInterceptor {
	tracer := t.Provider.Tracer(instrumentation)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if skip != nil && skip(ctx) {
			return next(ctx, req)
		}
		ctx, span := t.startRPC(ctx, tracer, info.FullMethod)
		resp, err := next(ctx, req)
		endRPC(span, err)
		return resp, err
	}
}

// StreamInterceptor is UnaryInterceptor for streams (REST streams reach the gRPC server over
// the in-memory connection, carrying the HTTP span's context in their metadata).
func (t *Tracing) StreamInterceptor() grpc.StreamServerInterceptor {
	tracer := t.Provider.Tracer(instrumentation)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, span := t.startRPC(ss.Context(), tracer, info.FullMethod)
		err := next(srv, &spanStream{ServerStream: ss, ctx: ctx})
		endRPC(span, err)
		return err
	}
}

func (t *Tracing) startRPC(ctx context.Context, tracer trace.Tracer, fullMethod string) (context.Context, trace.Span) {
	if len(metadata.ValueFromIncomingContext(ctx, "traceparent")) > 0 || len(metadata.ValueFromIncomingContext(ctx, "baggage")) > 0 {
		ctx = t.Propagator.Extract(ctx, incomingCarrier{ctx})
	}
	name := strings.TrimPrefix(fullMethod, "/")
	ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
	if span.IsRecording() {
		service, method, _ := strings.Cut(name, "/")
		span.SetAttributes(semconv.RPCSystemGRPC, semconv.RPCService(service), semconv.RPCMethod(method))
	}
	return ctx, span
}

func endRPC(span trace.Span, err error) {
	if span.IsRecording() {
		st := status.Convert(err)
		span.SetAttributes(semconv.RPCGRPCStatusCodeKey.Int(int(st.Code())))
		if serverFault(st.Code()) {
			span.SetStatus(otelcodes.Error, st.Message())
		}
	}
	span.End()
}

// serverFault tells the codes that mark a server span as failed (OpenTelemetry's gRPC
// conventions): a caller's mistake (NOT_FOUND, INVALID_ARGUMENT, ...) is not the server's error.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// spanStream is a server stream whose context carries the call's span.
type spanStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *spanStream) Context() context.Context { return s.ctx }

// incomingCarrier reads the trace context from a call's incoming metadata without copying it
// (metadata.FromIncomingContext copies every key and value).
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (incomingCarrier) Set(string, string) {}

// Keys is only used by propagators that enumerate carriers; the W3C ones do not.
func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}
