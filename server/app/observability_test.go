package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apptest"
)

// TestTraceIDPropagates sends a W3C traceparent and expects the same trace id in the error the
// gateway returns and in its log lines, over both transports.
func TestTraceIDPropagates(t *testing.T) {
	s := apptest.Start(t)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + traceID + "-00f067aa0ba902b7-01"

	r := s.Do(t, http.MethodGet, "/v1/policies/not-a-uuid", apptest.ReaderKey, nil, map[string]string{"Traceparent": traceparent})
	if got := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetMetadata()["trace_id"]; got != traceID {
		t.Errorf("REST error trace_id = %q, want %q", got, traceID)
	}
	ctx := metadata.AppendToOutgoingContext(apptest.WithToken(apptest.ReaderKey), "traceparent", traceparent)
	_, err := insurancev1.NewPolicyServiceClient(s.Conn).GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: "nope"})
	if got := apptest.ErrorInfo(t, status.Convert(err)).GetMetadata()["trace_id"]; got != traceID {
		t.Errorf("gRPC error trace_id = %q, want %q", got, traceID)
	}
	// Without a traceparent the gateway starts a trace of its own.
	r = s.Do(t, http.MethodGet, "/v1/nothing-here", "", nil, nil)
	if got := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetMetadata()["trace_id"]; len(got) != 32 {
		t.Errorf("404 without traceparent: trace_id = %q, want a fresh 32-hex id", got)
	}
	if logs := s.Logs.String(); !strings.Contains(logs, `"trace_id":"`+traceID+`"`) {
		t.Errorf("logs do not carry the trace id")
	}
}

// TestMetricsEndpoint drives calls over both transports and checks that the families an SRE
// alerts on exist and moved.
func TestMetricsEndpoint(t *testing.T) {
	s := apptest.Start(t)
	for i := 0; i < 3; i++ {
		s.Do(t, http.MethodGet, "/v1/policies/not-a-uuid", apptest.ReaderKey, nil, nil)
		s.Do(t, http.MethodGet, "/v1/nothing-here", "", nil, nil)
		_, _ = insurancev1.NewPolicyServiceClient(s.Conn).GetPolicy(context.Background(), &insurancev1.GetPolicyRequest{PolicyId: "x"})
	}
	// One publication delivered to the Scalepoint sandbox moves the outbox, partner and store
	// families.
	payload, _ := structpb.NewStruct(map[string]any{"payment": map[string]any{"uuid": "m-1", "status": "paid"}})
	pub, err := insurancev1.NewEventServiceClient(s.Conn).PublishEvent(apptest.WithToken(apptest.AllKey),
		&insurancev1.PublishEventRequest{EventType: "payment_status_updated", Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, insurancev1.NewEventServiceClient(s.Conn), []string{pub.GetPublication().GetPublicationId()})
	r := s.Do(t, http.MethodGet, "/metrics", "", nil, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", r.Code)
	}
	body := string(r.Body)
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="GetPolicy",grpc_service="covergate.insurance.v1.PolicyService",grpc_type="unary",transport="http"} 3`,
		`grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="GetPolicy",grpc_service="covergate.insurance.v1.PolicyService",grpc_type="unary",transport="grpc"} 3`,
		`covergate_http_requests_total{code="404",method="GET"} 3`,
		`covergate_partner_circuit_breaker_state{partner="avata"} 0`,
		`covergate_outbox_publications{status="pending"} 0`,
		`covergate_outbox_stats_up 1`,
		`grpc_server_handling_seconds_bucket`,
		`go_goroutines`,
		`covergate_outbox_delivery_attempts_total{outcome="delivered"} 1`,
		`covergate_outbox_publications{status="delivered"} 1`,
		`covergate_partner_requests_total{http_status="201",operation="publish",outcome="ok",partner="scalepoint"} 1`,
		`covergate_partner_request_duration_seconds_count{operation="publish",partner="scalepoint"} 1`,
		`covergate_store_transaction_duration_seconds_count{outcome="commit"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Pre-created series carry a real transport: none with an empty label, and a method never
	// called still shows a zero for each transport.
	if strings.Contains(body, `transport=""`) {
		t.Errorf("/metrics has series with an empty transport label")
	}
	for _, tr := range []string{"grpc", "http"} {
		zero := `grpc_server_started_total{grpc_method="GetQuote",grpc_service="covergate.insurance.v1.QuoteService",grpc_type="unary",transport="` + tr + `"} 0`
		if !strings.Contains(body, zero) {
			t.Errorf("/metrics lacks the pre-created %s", zero)
		}
	}
}
