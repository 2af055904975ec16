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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
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

// GRPC is a stats handler starting a server span for every gRPC call (the trace context comes
// from the call's metadata) and ending it with the call's status.
func (t *Tracing) GRPC() stats.Handler {
	return grpcHandler{tracer: t.Provider.Tracer(instrumentation), propagator: t.Propagator}
}

type grpcHandler struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

func (h grpcHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if len(metadata.ValueFromIncomingContext(ctx, "traceparent")) > 0 || len(metadata.ValueFromIncomingContext(ctx, "baggage")) > 0 {
		ctx = h.propagator.Extract(ctx, incomingCarrier{ctx})
	}
	name := strings.TrimPrefix(info.FullMethodName, "/")
	ctx, span := h.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
	if span.IsRecording() {
		service, method, _ := strings.Cut(name, "/")
		span.SetAttributes(semconv.RPCSystemGRPC, semconv.RPCService(service), semconv.RPCMethod(method))
	}
	return ctx
}

func (h grpcHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok {
		return
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		st := status.Convert(end.Error)
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

func (grpcHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcHandler) HandleConn(context.Context, stats.ConnStats)                       {}

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
