package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

// TestWatchErrorsAreTopLevelStatus: an error that ends GET /v1/events:watch before its first
// event is a top-level google.rpc.Status under its HTTP status, like every other error — not a
// stream chunk {"error": ...}.
func TestWatchErrorsAreTopLevelStatus(t *testing.T) {
	s := apptest.Start(t)
	tests := []struct {
		name, path, token string
		http              int
		reason            insurancev1.ErrorReason
	}{
		{"invalid cursor", "/v1/events:watch?after_cursor=-1", apptest.AllKey, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"invalid type filter", "/v1/events:watch?types=DROP%20TABLE", apptest.AllKey, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"unknown partner", "/v1/events:watch?partner=PARTNER_EVIL", apptest.AllKey, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"no credentials", "/v1/events:watch", "", http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED},
		{"missing scope", "/v1/events:watch", apptest.ReaderKey, http.StatusForbidden, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, http.MethodGet, tc.path, tc.token, nil, nil)
			if r.Code != tc.http {
				t.Fatalf("HTTP %d, want %d: %s", r.Code, tc.http, r.Body)
			}
			if strings.HasPrefix(strings.TrimSpace(string(r.Body)), `{"error"`) {
				t.Fatalf("error wrapped as a stream chunk: %s", r.Body)
			}
			st := apptest.RESTStatus(t, r)
			if got := apptest.ErrorInfo(t, st).GetReason(); got != apierror.Reason(tc.reason) {
				t.Fatalf("reason %s, want %s: %s", got, tc.reason, r.Body)
			}
		})
	}
	// A valid watch still streams (200, newline-delimited chunks).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/v1/events:watch", nil)
	req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
	go func() { // ends when the request is canceled below
		_ = s.JSON(t, http.MethodPost, "/v1/quotes", apptest.AllKey, quoteBody)
	}()
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make([]byte, 16)
	if _, err := io.ReadFull(resp.Body, line); err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(line), `{"result"`) {
		t.Fatalf("valid watch: %d %q %v", resp.StatusCode, line, err)
	}
}

// TestBadPartnerAnswerIs502: a partner answer we cannot use (here a redirect, which is never
// followed) is 502 PARTNER_BAD_RESPONSE over REST and INTERNAL with the same reason over gRPC,
// with a google.rpc.Status body — not a 500 — and the redirect target receives nothing.
func TestBadPartnerAnswerIs502(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { stolen.Add(1) }))
	defer thief.Close()
	avata := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer avata.Close()
	s := apptest.Start(t, func(c *app.Config) {
		p := &c.Partners
		p.Mode = app.PartnersLive
		p.EtvasURL, p.EtvasAPIKey = "http://127.0.0.1:9", "etvas-key-unused"
		p.AvataURL, p.AvataAPIKey, p.AvataCallbackSecret = avata.URL, "avata-secret-key", "callback-secret"
		p.AvataMerchantKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // Hardhat #0, public
		p.ScalepointURL, p.ScalepointTokenURL = "http://127.0.0.1:9", "http://127.0.0.1:9/connect/token"
		p.ScalepointClientID, p.ScalepointClientSecret, p.ScalepointTenant = "id", "secret", "tenant"
		p.ScalepointWebhookToken = "webhook-token"
	})
	body := `{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"0x8a90cab2b38dba80c64b7734e58ee1db38b8992e","token":"TOKEN_ETH"},"totalValue":{"currencyCode":"ETH","amount":"1.5"}}`
	r := s.JSON(t, http.MethodPost, "/v1/quotes", apptest.AllKey, body)
	if r.Code != http.StatusBadGateway {
		t.Fatalf("HTTP %d, want 502: %s", r.Code, r.Body)
	}
	info := apptest.ErrorInfo(t, apptest.RESTStatus(t, r))
	u, _ := url.Parse(thief.URL)
	if info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE) || info.GetMetadata()["refused_redirect_host"] != u.Host {
		t.Fatalf("ErrorInfo %v", info)
	}
	_, err := insurancev1.NewQuoteServiceClient(s.Conn).CreateQuote(apptest.WithToken(apptest.AllKey), &insurancev1.CreateQuoteRequest{
		Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
			Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e", Token: insurancev1.Token_TOKEN_ETH,
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: "1.5"},
	})
	if status.Code(err) != codes.Internal || apptest.ErrorInfo(t, status.Convert(err)).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE) {
		t.Fatalf("gRPC: %v", err)
	}
	if stolen.Load() != 0 {
		t.Fatalf("the redirect target received %d request(s)", stolen.Load())
	}
}

// TestEveryErrorBodyIsAStatus: error answers of handlers that know nothing of google.rpc.Status
// (the docs page, readiness) are Status bodies too, with the headers they set kept.
func TestEveryErrorBodyIsAStatus(t *testing.T) {
	s := apptest.Start(t)
	tests := []struct {
		method, path string
		http         int
		reason       insurancev1.ErrorReason
		header       string // a header the original answer set, which must survive
	}{
		{http.MethodGet, "/docs/no-such-asset.js", http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND, ""},
		{http.MethodPost, "/docs/", http.StatusMethodNotAllowed, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED, "Allow"},
		{http.MethodGet, "/no/such/route", http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND, ""},
		{http.MethodDelete, "/v1/quotes", http.StatusMethodNotAllowed, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := s.Do(t, tc.method, tc.path, apptest.AllKey, nil, nil)
			if r.Code != tc.http {
				t.Fatalf("HTTP %d, want %d: %s", r.Code, tc.http, r.Body)
			}
			if got := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason(); got != apierror.Reason(tc.reason) {
				t.Fatalf("reason %s, want %s", got, tc.reason)
			}
			if tc.header != "" && r.Header.Get(tc.header) == "" {
				t.Fatalf("header %s lost: %v", tc.header, r.Header)
			}
		})
	}
}
