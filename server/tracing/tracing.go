// Package tracing sets up OpenTelemetry tracing: every request gets a span context (so every log
// line and error response can carry a trace id that ties it to its request); spans are recorded
// and exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// is set. OTEL_TRACES_SAMPLER, when set, replaces the default sampler.
//
// The provider is returned, not installed globally: the server spans are started by HTTP and
// the gRPC interceptors (server.go), the client spans by otelhttp and otelgrpc, each handed the provider.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the tracer provider and the propagator of one server.
type Tracing struct {
	Provider   *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
	Exporting  bool
}

// Setup builds the provider. env looks up environment variables (os.Getenv in production).
func Setup(ctx context.Context, service, version string, env func(string) string) (*Tracing, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(service), semconv.ServiceVersion(version),
	))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	exporting := env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if env("OTEL_TRACES_SAMPLER") == "" {
		opts = append(opts, sdktrace.WithSampler(defaultSampler(exporting)))
	} // else the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself
	if exporting {
		// The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers,
		// TLS, timeout) itself.
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return &Tracing{
		Provider:   sdktrace.NewTracerProvider(opts...),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Exporting:  exporting,
	}, nil
}

// defaultSampler records every trace when spans are exported. When nothing exports them, a new
// trace is not recorded: its span context (trace id, span id) is still created, propagated to
// partners and written into logs and errors, but no span data is built only to be dropped (that
// cost about 5 µs and a dozen allocations per call). A caller whose traceparent says "sampled"
// is still honoured, so the flag it sends downstream stays its own.
func defaultSampler(exporting bool) sdktrace.Sampler {
	if exporting {
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return sdktrace.ParentBased(sdktrace.NeverSample())
}

// Shutdown flushes pending spans.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.Provider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// TraceID returns the trace id of ctx's span, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// LogHandler adds trace_id and span_id to every record logged with a context that carries a span.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
