package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
)

func TestHealth(t *testing.T) {
	s := apptest.Start(t)
	resp, err := healthpb.NewHealthClient(s.Conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("gRPC health: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, want SERVING", resp.GetStatus())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r := s.Do(t, http.MethodGet, path, "", nil, nil)
		if r.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, r.Code, r.Body)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
}

// TestSameErrorsOnBothTransports runs each case over gRPC and over REST and requires the same
// code, reason and field violations, with the HTTP status that matches.
func TestSameErrorsOnBothTransports(t *testing.T) {
	s := apptest.Start(t)
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	quotes := insurancev1.NewQuoteServiceClient(s.Conn)
	cases := []struct {
		name           string
		grpcCall       func() error
		method, path   string
		token, body    string
		wantCode       codes.Code
		wantHTTP       int
		wantReason     insurancev1.ErrorReason
		wantViolations []string
	}{
		{
			name: "no token",
			grpcCall: func() error {
				_, err := policies.GetPolicy(apptest.WithToken(""), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000",
			wantCode: codes.Unauthenticated, wantHTTP: http.StatusUnauthorized,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
		},
		{
			name: "unknown token",
			grpcCall: func() error {
				_, err := policies.GetPolicy(apptest.WithToken("not-a-configured-key"), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000", token: "not-a-configured-key",
			wantCode: codes.Unauthenticated, wantHTTP: http.StatusUnauthorized,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
		},
		{
			name: "wrong scope",
			grpcCall: func() error {
				_, err := quotes.GetQuote(apptest.WithToken(apptest.ReaderKey), &insurancev1.GetQuoteRequest{QuoteId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/quotes/0190a0a0-0000-7000-8000-000000000000", token: apptest.ReaderKey,
			wantCode: codes.PermissionDenied, wantHTTP: http.StatusForbidden,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
		},
		{
			name: "invalid path id",
			grpcCall: func() error {
				_, err := policies.GetPolicy(apptest.WithToken(apptest.ReaderKey), &insurancev1.GetPolicyRequest{PolicyId: "abc"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/abc", token: apptest.ReaderKey,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason:     insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{"policy_id|STRING_UUID"},
		},
		{
			name: "invalid body, several violations",
			grpcCall: func() error {
				_, err := quotes.CreateQuote(apptest.WithToken(apptest.AllKey), &insurancev1.CreateQuoteRequest{
					Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
						Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftContractAddress: "0x123", Token: insurancev1.Token_TOKEN_ETH,
					}},
					TotalValue: &insurancev1.Money{CurrencyCode: "eth", Amount: "0.00"},
				})
				return err
			},
			method: http.MethodPost, path: "/v1/quotes", token: apptest.AllKey,
			body:     `{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"0x123","token":"TOKEN_ETH"},"totalValue":{"currencyCode":"eth","amount":"0.00"}}`,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{
				"|TOTAL_VALUE_POSITIVE",
				"nft.nft_contract_address|STRING_PATTERN",
				"total_value.currency_code|STRING_PATTERN",
			},
		},
		{
			name: "missing oneof",
			grpcCall: func() error {
				_, err := quotes.CreateQuote(apptest.WithToken(apptest.AllKey), &insurancev1.CreateQuoteRequest{TotalValue: &insurancev1.Money{CurrencyCode: "EUR", Amount: "10"}})
				return err
			},
			method: http.MethodPost, path: "/v1/quotes", token: apptest.AllKey,
			body:     `{"totalValue":{"currencyCode":"EUR","amount":"10"}}`,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason:     insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{"cover|REQUIRED"},
		},
		{
			name: "valid request reaches an unbuilt method",
			grpcCall: func() error {
				_, err := policies.GetPolicy(apptest.WithToken(apptest.ReaderKey), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000", token: apptest.ReaderKey,
			wantCode: codes.NotFound, wantHTTP: http.StatusNotFound,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gst, _ := status.FromError(tc.grpcCall())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := s.Do(t, tc.method, tc.path, tc.token, body, nil)
			hst := apptest.RESTStatus(t, r)
			for transport, st := range map[string]*status.Status{"grpc": gst, "http": hst} {
				if st.Code() != tc.wantCode {
					t.Errorf("%s: code = %v (%s), want %v", transport, st.Code(), st.Message(), tc.wantCode)
				}
				if got := apptest.ErrorInfo(t, st).GetReason(); got != apierror.Reason(tc.wantReason) {
					t.Errorf("%s: reason = %s, want %s", transport, got, tc.wantReason)
				}
				if got := apptest.Violations(st); strings.Join(got, ",") != strings.Join(tc.wantViolations, ",") {
					t.Errorf("%s: violations = %v, want %v", transport, got, tc.wantViolations)
				}
			}
			if r.Code != tc.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body %s", r.Code, tc.wantHTTP, r.Body)
			}
			if gst.Message() != hst.Message() {
				t.Errorf("messages differ: grpc %q, http %q", gst.Message(), hst.Message())
			}
			if tc.wantHTTP == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHTTPOnlyErrors(t *testing.T) {
	s := apptest.Start(t)
	big := `{"totalValue":{"currencyCode":"EUR","amount":"` + strings.Repeat("1", 70<<10) + `"}}`
	cases := []struct {
		name       string
		method     string
		path       string
		body       io.Reader
		header     map[string]string
		wantHTTP   int
		wantReason insurancev1.ErrorReason
	}{
		{"unknown route", http.MethodGet, "/v2/nothing", nil, nil, http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND},
		{"unknown API route", http.MethodGet, "/v1/nothing", nil, nil, http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND},
		{"oversize body", http.MethodPost, "/v1/quotes", strings.NewReader(big), nil, http.StatusRequestEntityTooLarge, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE},
		// A webhook's header credentials are checked before its body is read: an oversize body
		// from a stranger is refused for the credentials, from the partner for its size.
		{"oversize webhook, no credentials", http.MethodPost, "/etvas/events", strings.NewReader(big), nil, http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED},
		{"oversize webhook", http.MethodPost, "/etvas/events", strings.NewReader(big),
			map[string]string{"x-api-key": etvasbox.DefaultAPIKey, "x-etvas-signature": "00"}, http.StatusRequestEntityTooLarge, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE},
		{"malformed JSON", http.MethodPost, "/v1/quotes", strings.NewReader(`{"totalValue":`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong JSON type", http.MethodPost, "/v1/quotes", strings.NewReader(`{"totalValue":{"amount":12}}`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"unknown field", http.MethodPost, "/v1/quotes", strings.NewReader(`{"bogus":1}`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong content type", http.MethodPost, "/v1/quotes", strings.NewReader(`{}`), map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong method", http.MethodDelete, "/v1/quotes", nil, nil, http.StatusMethodNotAllowed, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, tc.method, tc.path, apptest.AllKey, tc.body, tc.header)
			if r.Code != tc.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body %s", r.Code, tc.wantHTTP, r.Body)
			}
			st := apptest.RESTStatus(t, r)
			if got := apptest.ErrorInfo(t, st).GetReason(); got != apierror.Reason(tc.wantReason) {
				t.Errorf("reason = %s, want %s (message %q)", got, tc.wantReason, st.Message())
			}
			if got, want := apptest.ErrorInfo(t, st).GetMetadata()["request_id"], r.Header.Get("X-Request-Id"); got != want {
				t.Errorf("request_id in body %q != X-Request-Id header %q", got, want)
			}
		})
	}
}

func TestRequestIDIsKeptOrReplaced(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"bad id with spaces", ""},
		{strings.Repeat("x", 200), ""},
	} {
		r := s.Do(t, http.MethodGet, "/v1/policies/abc", apptest.ReaderKey, nil, map[string]string{"X-Request-Id": tc.sent})
		got := r.Header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want {
			t.Errorf("sent %q: X-Request-Id = %q", tc.sent, got)
		}
		if tc.want == "" && (got == "" || got == tc.sent) {
			t.Errorf("sent %q: X-Request-Id = %q, want a fresh id", tc.sent, got)
		}
		if id := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetMetadata()["request_id"]; id != got {
			t.Errorf("error request_id %q != header %q", id, got)
		}
	}
}

// TestForgedMetadataIsDropped proves the header allowlist: an HTTP client cannot smuggle gRPC
// metadata through grpc-gateway's Grpc-Metadata-* passthrough.
func TestForgedMetadataIsDropped(t *testing.T) {
	s := apptest.Start(t)
	r := s.Do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", "", nil, map[string]string{
		"Grpc-Metadata-Authorization": "Bearer " + apptest.AllKey,
	})
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("Grpc-Metadata-Authorization was honoured: HTTP %d %s", r.Code, r.Body)
	}
}

func TestOpenAPIDocuments(t *testing.T) {
	s := apptest.Start(t)
	r := s.Do(t, http.MethodGet, "/openapi.json", "", nil, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", r.Code)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	routes := []string{
		"POST /v1/quotes", "GET /v1/quotes/{quote_id}",
		"POST /v1/policies", "GET /v1/policies/{policy_id}", "GET /v1/policies",
		"POST /v1/policies/{policy_id}:cancel", "POST /v1/policies/{policy_id}:activate", "POST /v1/policies/{policy_id}:refresh",
		"POST /v1/policies/{policy_id}/claim-documents", "POST /v1/policies/{policy_id}/claims",
		"GET /v1/claims/{claim_id}", "GET /v1/claims", "GET /v1/claims/{claim_id}/portal-link",
		"GET /v1/customers/{customer_id}", "POST /v1/customers:verifyPortalToken",
		"POST /v1/customers/{customer_id}:erase", "POST /v1/customers/{customer_id}/kyc",
		"GET /v1/external-data/{key}", "PUT /v1/external-data/{key}", "DELETE /v1/external-data/{key}",
		"GET /v1/events", "GET /v1/events:watch", "POST /v1/publications",
		"GET /v1/publications/{publication_id}", "GET /v1/publications",
		"POST /etvas-events", "POST /etvas/events", "POST /webhooks/avata", "POST /webhooks/scalepoint",
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("OpenAPI 3.1 lacks %s", route)
			continue
		}
		if d, _ := op["description"].(string); d == "" {
			if s, _ := op["summary"].(string); s == "" {
				t.Errorf("%s has no description", route)
			}
		}
	}
	if r := s.Do(t, http.MethodGet, "/openapi/v2.json", "", nil, nil); r.Code != http.StatusOK || !bytes.Contains(r.Body, []byte(`"swagger": "2.0"`)) {
		t.Errorf("GET /openapi/v2.json = %d", r.Code)
	}
	// The docs page is mounted on the gateway (its browser test lives in server/docs).
	if r := s.Do(t, http.MethodGet, "/docs/", "", nil, nil); r.Code != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /docs/ = %d %s", r.Code, r.Header.Get("Content-Type"))
	}
}

func TestReflectionListsServices(t *testing.T) {
	s := apptest.Start(t)
	stream, err := reflectionpb.NewServerReflectionClient(s.Conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, svc := range resp.GetListServicesResponse().GetService() {
		got[svc.GetName()] = true
	}
	for _, want := range []string{
		"covergate.insurance.v1.QuoteService", "covergate.insurance.v1.PolicyService", "covergate.insurance.v1.ClaimService",
		"covergate.insurance.v1.CustomerService", "covergate.insurance.v1.EventService",
		"covergate.webhooks.v1.EtvasWebhookService", "covergate.webhooks.v1.AvataWebhookService",
		"covergate.webhooks.v1.ScalepointWebhookService", "grpc.health.v1.Health",
	} {
		if !got[want] {
			t.Errorf("reflection does not list %s (got %v)", want, got)
		}
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	s := apptest.Start(t)
	s.Do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", apptest.AllKey, nil, nil)
	s.Do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", "wrong-secret-token", nil, nil)
	logs := s.Logs.String()
	for _, secret := range []string{apptest.AllKey, "wrong-secret-token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the token %q", secret)
		}
	}
	if !strings.Contains(logs, `"principal":"key:`) {
		t.Errorf("logs do not name the principal: %s", logs)
	}
}

func TestInvalidConfigListsEveryProblem(t *testing.T) {
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.LogFormat, cfg.MaxBodyBytes = "nope", "also-nope", "xml", 1
	cfg.APIKeys = "short:*"
	_, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"grpc-addr", "http-addr", "log-format", "max-body-bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}
