package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
)

const (
	allKey    = "test-key-all-scopes"
	readerKey = "test-key-policies-read"
)

// server is a gateway running on random loopback ports for one test.
type server struct {
	httpURL string
	conn    *grpc.ClientConn
	logs    *syncBuffer
}

func start(t *testing.T, mutate ...func(*app.Config)) *server {
	t.Helper()
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.APIKeys = allKey + ":*;" + readerKey + ":policies.read"
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxUploadBytes = 256 << 10
	cfg.ShutdownTimeout = 5 * time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop within 10s")
		}
	})
	s := &server{httpURL: "http://" + a.HTTPAddr(), conn: conn, logs: logs}
	s.waitReady(t)
	return s
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.httpURL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("gateway not ready within 5s")
}

type httpResult struct {
	code   int
	header http.Header
	body   []byte
}

func (s *server) do(t *testing.T, method, path, token string, body io.Reader, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, s.httpURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{code: resp.StatusCode, header: resp.Header, body: b}
}

// restStatus decodes a REST error body, which must be a google.rpc.Status.
func restStatus(t *testing.T, r httpResult) *status.Status {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q, want application/json; body %s", ct, r.body)
	}
	var p spb.Status
	if err := protojson.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %s", err, r.body)
	}
	return status.FromProto(&p)
}

func withToken(token string) context.Context {
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return ctx
}

func errorInfo(t *testing.T, st *status.Status) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetDomain() != "covergate" {
				t.Errorf("ErrorInfo domain = %q", info.GetDomain())
			}
			if info.GetMetadata()["request_id"] == "" {
				t.Errorf("ErrorInfo has no request_id: %v", info)
			}
			return info
		}
	}
	t.Fatalf("status %v has no ErrorInfo", st.Proto())
	return nil
}

func violations(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+"|"+v.GetReason())
			}
		}
	}
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHealth(t *testing.T) {
	s := start(t)
	resp, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("gRPC health: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, want SERVING", resp.GetStatus())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r := s.do(t, http.MethodGet, path, "", nil, nil)
		if r.code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, r.code, r.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
}

// TestSameErrorsOnBothTransports runs each case over gRPC and over REST and requires the same
// code, reason and field violations, with the HTTP status that matches.
func TestSameErrorsOnBothTransports(t *testing.T) {
	s := start(t)
	policies := insurancev1.NewPolicyServiceClient(s.conn)
	quotes := insurancev1.NewQuoteServiceClient(s.conn)
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
				_, err := policies.GetPolicy(withToken(""), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000",
			wantCode: codes.Unauthenticated, wantHTTP: http.StatusUnauthorized,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
		},
		{
			name: "unknown token",
			grpcCall: func() error {
				_, err := policies.GetPolicy(withToken("not-a-configured-key"), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000", token: "not-a-configured-key",
			wantCode: codes.Unauthenticated, wantHTTP: http.StatusUnauthorized,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
		},
		{
			name: "wrong scope",
			grpcCall: func() error {
				_, err := quotes.GetQuote(withToken(readerKey), &insurancev1.GetQuoteRequest{QuoteId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/quotes/0190a0a0-0000-7000-8000-000000000000", token: readerKey,
			wantCode: codes.PermissionDenied, wantHTTP: http.StatusForbidden,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
		},
		{
			name: "invalid path id",
			grpcCall: func() error {
				_, err := policies.GetPolicy(withToken(readerKey), &insurancev1.GetPolicyRequest{PolicyId: "abc"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/abc", token: readerKey,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason:     insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{"policy_id|string.uuid"},
		},
		{
			name: "invalid body, several violations",
			grpcCall: func() error {
				_, err := quotes.CreateQuote(withToken(allKey), &insurancev1.CreateQuoteRequest{
					Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
						Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftContractAddress: "0x123", Token: insurancev1.Token_TOKEN_ETH,
					}},
					TotalValue: &insurancev1.Money{CurrencyCode: "eth", Amount: "0.00"},
				})
				return err
			},
			method: http.MethodPost, path: "/v1/quotes", token: allKey,
			body:     `{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"0x123","token":"TOKEN_ETH"},"totalValue":{"currencyCode":"eth","amount":"0.00"}}`,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{
				"|total_value.positive",
				"nft.nft_contract_address|string.pattern",
				"total_value.currency_code|string.pattern",
			},
		},
		{
			name: "missing oneof",
			grpcCall: func() error {
				_, err := quotes.CreateQuote(withToken(allKey), &insurancev1.CreateQuoteRequest{TotalValue: &insurancev1.Money{CurrencyCode: "EUR", Amount: "10"}})
				return err
			},
			method: http.MethodPost, path: "/v1/quotes", token: allKey,
			body:     `{"totalValue":{"currencyCode":"EUR","amount":"10"}}`,
			wantCode: codes.InvalidArgument, wantHTTP: http.StatusBadRequest,
			wantReason:     insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			wantViolations: []string{"cover|required"},
		},
		{
			name: "valid request reaches an unbuilt method",
			grpcCall: func() error {
				_, err := policies.GetPolicy(withToken(readerKey), &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
				return err
			},
			method: http.MethodGet, path: "/v1/policies/0190a0a0-0000-7000-8000-000000000000", token: readerKey,
			wantCode: codes.Unimplemented, wantHTTP: http.StatusNotImplemented,
			wantReason: insurancev1.ErrorReason_ERROR_REASON_NOT_IMPLEMENTED,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gst, _ := status.FromError(tc.grpcCall())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := s.do(t, tc.method, tc.path, tc.token, body, nil)
			hst := restStatus(t, r)
			for transport, st := range map[string]*status.Status{"grpc": gst, "http": hst} {
				if st.Code() != tc.wantCode {
					t.Errorf("%s: code = %v (%s), want %v", transport, st.Code(), st.Message(), tc.wantCode)
				}
				if got := errorInfo(t, st).GetReason(); got != tc.wantReason.String() {
					t.Errorf("%s: reason = %s, want %s", transport, got, tc.wantReason)
				}
				if got := violations(st); strings.Join(got, ",") != strings.Join(tc.wantViolations, ",") {
					t.Errorf("%s: violations = %v, want %v", transport, got, tc.wantViolations)
				}
			}
			if r.code != tc.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body %s", r.code, tc.wantHTTP, r.body)
			}
			if gst.Message() != hst.Message() {
				t.Errorf("messages differ: grpc %q, http %q", gst.Message(), hst.Message())
			}
			if tc.wantHTTP == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHTTPOnlyErrors(t *testing.T) {
	s := start(t)
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
		{"oversize webhook", http.MethodPost, "/etvas/events", strings.NewReader(big), nil, http.StatusRequestEntityTooLarge, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE},
		{"malformed JSON", http.MethodPost, "/v1/quotes", strings.NewReader(`{"totalValue":`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong JSON type", http.MethodPost, "/v1/quotes", strings.NewReader(`{"totalValue":{"amount":12}}`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"unknown field", http.MethodPost, "/v1/quotes", strings.NewReader(`{"bogus":1}`), nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong content type", http.MethodPost, "/v1/quotes", strings.NewReader(`{}`), map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"wrong method", http.MethodDelete, "/v1/quotes", nil, nil, http.StatusMethodNotAllowed, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, allKey, tc.body, tc.header)
			if r.code != tc.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body %s", r.code, tc.wantHTTP, r.body)
			}
			st := restStatus(t, r)
			if got := errorInfo(t, st).GetReason(); got != tc.wantReason.String() {
				t.Errorf("reason = %s, want %s (message %q)", got, tc.wantReason, st.Message())
			}
			if got, want := errorInfo(t, st).GetMetadata()["request_id"], r.header.Get("X-Request-Id"); got != want {
				t.Errorf("request_id in body %q != X-Request-Id header %q", got, want)
			}
		})
	}
}

func TestRequestIDIsKeptOrReplaced(t *testing.T) {
	s := start(t)
	for _, tc := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"bad id with spaces", ""},
		{strings.Repeat("x", 200), ""},
	} {
		r := s.do(t, http.MethodGet, "/v1/policies/abc", readerKey, nil, map[string]string{"X-Request-Id": tc.sent})
		got := r.header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want {
			t.Errorf("sent %q: X-Request-Id = %q", tc.sent, got)
		}
		if tc.want == "" && (got == "" || got == tc.sent) {
			t.Errorf("sent %q: X-Request-Id = %q, want a fresh id", tc.sent, got)
		}
		if id := errorInfo(t, restStatus(t, r)).GetMetadata()["request_id"]; id != got {
			t.Errorf("error request_id %q != header %q", id, got)
		}
	}
}

// TestForgedMetadataIsDropped proves the header allowlist: an HTTP client cannot smuggle gRPC
// metadata through grpc-gateway's Grpc-Metadata-* passthrough.
func TestForgedMetadataIsDropped(t *testing.T) {
	s := start(t)
	r := s.do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", "", nil, map[string]string{
		"Grpc-Metadata-Authorization": "Bearer " + allKey,
	})
	if r.code != http.StatusUnauthorized {
		t.Fatalf("Grpc-Metadata-Authorization was honoured: HTTP %d %s", r.code, r.body)
	}
}

func TestOpenAPIDocuments(t *testing.T) {
	s := start(t)
	r := s.do(t, http.MethodGet, "/openapi.json", "", nil, nil)
	if r.code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", r.code)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
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
	if r := s.do(t, http.MethodGet, "/openapi/v2.json", "", nil, nil); r.code != http.StatusOK || !bytes.Contains(r.body, []byte(`"swagger": "2.0"`)) {
		t.Errorf("GET /openapi/v2.json = %d", r.code)
	}
}

func TestReflectionListsServices(t *testing.T) {
	s := start(t)
	stream, err := reflectionpb.NewServerReflectionClient(s.conn).ServerReflectionInfo(context.Background())
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
	s := start(t)
	s.do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", allKey, nil, nil)
	s.do(t, http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000", "wrong-secret-token", nil, nil)
	logs := s.logs.String()
	for _, secret := range []string{allKey, "wrong-secret-token"} {
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
