package tracing

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerParent = "00f067aa0ba902b7"
)

// recording is a Tracing whose spans all land in the returned recorder.
func recording() (*Tracing, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	return &Tracing{
		Provider:   sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(defaultSampler(true))),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Exporting:  true,
	}, sr
}

func attr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func TestHTTPSpanIsNamedAfterTheRouteAndCarriesTheOutcome(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		traceparent string
		wantError   bool
	}{
		{"server error continues the caller's trace", http.StatusServiceUnavailable, "00-" + callerTrace + "-" + callerParent + "-01", true},
		{"client error is not the server's fault", http.StatusNotFound, "", false},
		{"success", http.StatusOK, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, sr := recording()
			h := tr.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				SetRoute(r.Context(), r.Method, "/v1/policies/{policy_id}")
				w.WriteHeader(tc.status)
			}))
			req := httptest.NewRequest(http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", nil)
			if tc.traceparent != "" {
				req.Header.Set("Traceparent", tc.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			spans := sr.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans ended, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != "GET /v1/policies/{policy_id}" || s.SpanKind() != trace.SpanKindServer {
				t.Errorf("span %q kind %v, want the route template, server kind", s.Name(), s.SpanKind())
			}
			if tc.traceparent != "" && (s.SpanContext().TraceID().String() != callerTrace || s.Parent().SpanID().String() != callerParent) {
				t.Errorf("trace %s parent %s, want the caller's %s/%s", s.SpanContext().TraceID(), s.Parent().SpanID(), callerTrace, callerParent)
			}
			for key, want := range map[string]string{"http.route": "/v1/policies/{policy_id}", "http.request.method": "GET",
				"url.path": "/v1/policies/0190a0a0-0000-7000-8000-000000000000"} {
				if got, _ := attr(s, key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			if got, _ := attr(s, "http.response.status_code"); got != strconv.Itoa(tc.status) {
				t.Errorf("http.response.status_code = %q, want %d", got, tc.status)
			}
			if (s.Status().Code == otelcodes.Error) != tc.wantError {
				t.Errorf("status %v, want error=%v", s.Status(), tc.wantError)
			}
		})
	}
}

// Without an exporter no span data is built, but every request still has a trace id (logs and
// error bodies carry it), and a caller's own trace and sampling decision are kept.
func TestHTTPWithoutExporterKeepsTraceIDs(t *testing.T) {
	tr, err := Setup(context.Background(), "covergate", "test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	for _, tc := range []struct {
		name        string
		traceparent string
		wantTrace   string
		wantSampled bool
	}{
		{"new trace", "", "", false},
		{"caller's unsampled trace", "00-" + callerTrace + "-" + callerParent + "-00", callerTrace, false},
		{"caller's sampled trace", "00-" + callerTrace + "-" + callerParent + "-01", callerTrace, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sc trace.SpanContext
			var recording bool
			h := tr.HTTP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				sc = trace.SpanContextFromContext(r.Context())
				recording = trace.SpanFromContext(r.Context()).IsRecording()
			}))
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			if tc.traceparent != "" {
				req.Header.Set("Traceparent", tc.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if !sc.IsValid() {
				t.Fatal("no valid span context in the request")
			}
			if tc.wantTrace != "" && sc.TraceID().String() != tc.wantTrace {
				t.Errorf("trace id %s, want %s", sc.TraceID(), tc.wantTrace)
			}
			if sc.IsSampled() != tc.wantSampled || recording != tc.wantSampled {
				t.Errorf("sampled %v recording %v, want %v", sc.IsSampled(), recording, tc.wantSampled)
			}
		})
	}
}

func TestGRPCSpan(t *testing.T) {
	tr, sr := recording()
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(tr.UnaryInterceptor(nil)), grpc.ChainStreamInterceptor(tr.StreamInterceptor()))
	hs := health.NewServer()
	hs.SetServingStatus("ok", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }() // stopped by srv.Stop in the cleanup
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := healthpb.NewHealthClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+callerTrace+"-"+callerParent+"-01")

	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "ok"}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v, want NOT_FOUND", err)
	}
	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for i, wantCode := range []string{"0", "5"} {
		s := spans[i]
		if s.Name() != "grpc.health.v1.Health/Check" || s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
		}
		if s.SpanContext().TraceID().String() != callerTrace {
			t.Errorf("trace %s, want the caller's", s.SpanContext().TraceID())
		}
		for key, want := range map[string]string{"rpc.system": "grpc", "rpc.service": "grpc.health.v1.Health", "rpc.method": "Check",
			"rpc.grpc.status_code": wantCode} {
			if got, _ := attr(s, key); got != want {
				t.Errorf("span %d: %s = %q, want %q", i, key, got, want)
			}
		}
		// NOT_FOUND is the caller's mistake, not a server failure.
		if s.Status().Code == otelcodes.Error {
			t.Errorf("span %d: status %v, want unset", i, s.Status())
		}
	}
}
