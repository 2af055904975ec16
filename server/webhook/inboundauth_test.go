package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/webhook"
)

// countingBody counts the bytes the middleware reads from a large body.
type countingBody struct {
	left int
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	for i := range n {
		p[i] = ' '
	}
	b.left -= n
	b.read.Add(int64(n))
	return n, nil
}

// TestHeaderCredentialsBeforeBody: refusals decided by headers read no byte of the body; a
// body read with valid credentials stops at the limit.
func TestHeaderCredentialsBeforeBody(t *testing.T) {
	const limit = 1 << 10
	strict := webhook.Config{EtvasAPIKey: apiKey, EtvasEventSecret: eventSecret, AvataCallbackSecret: avataSecret,
		ScalepointWebhookToken: spToken, MaxBodyBytes: limit, Now: func() time.Time { return clock }}
	lenient := strict
	lenient.EtvasPortalAPIKeyOptional, lenient.AvataSignatureOptional, lenient.ScalepointTokenOptional = true, true, true
	tests := []struct {
		name     string
		cfg      webhook.Config
		path     string
		headers  map[string]string
		code     int
		readsAny bool
	}{
		{"etvas no key", strict, "/etvas/events", nil, 401, false},
		{"etvas no signature", strict, "/etvas/events", map[string]string{"x-api-key": apiKey}, 400, false},
		{"etvas portal no key", strict, "/etvas-events", nil, 401, false},
		{"avata no signature", strict, "/webhooks/avata", nil, 401, false},
		{"scalepoint no bearer", strict, "/webhooks/scalepoint", nil, 401, false},
		{"lenient scalepoint no bearer: deferred", lenient, "/webhooks/scalepoint", nil, 202, false},
		{"lenient etvas portal wrong key", lenient, "/etvas-events", map[string]string{"x-api-key": "x"}, 401, false},
		{"credentials ok, body over the limit", strict, "/webhooks/scalepoint", map[string]string{"Authorization": "Bearer " + spToken}, 413, true},
		{"avata signed, body over the limit", strict, "/webhooks/avata", map[string]string{"X-Avata-Signature": "00"}, 413, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{left: 1 << 20}
			req := httptest.NewRequest(http.MethodPost, tc.path, body)
			req.ContentLength = -1
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next reached") })
			webhook.NewVerifier(tc.cfg, webhook.NewRegistry()).Middleware(next).ServeHTTP(rec, req)
			read := body.read.Load()
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if !tc.readsAny && read != 0 {
				t.Fatalf("read %d body bytes before refusing on headers", read)
			}
			if tc.readsAny && (read == 0 || read > limit+64<<10) {
				t.Fatalf("read %d body bytes, want a read bounded near the %d limit", read, limit)
			}
			if rec.Header().Get("Connection") != "close" {
				t.Error("an unread body must close the connection, not be drained")
			}
		})
	}
}

// TestLenientModesStillVerify: with the requirements off, what is sent is still checked.
func TestLenientModesStillVerify(t *testing.T) {
	tokenCalls := 0
	cfg := webhook.Config{
		EtvasAPIKey: apiKey, AvataCallbackSecret: avataSecret, ScalepointWebhookToken: spToken,
		EtvasPortalAPIKeyOptional: true, AvataSignatureOptional: true, ScalepointTokenOptional: true,
		EtvasVerifyToken: func(_ context.Context, token string) error {
			tokenCalls++
			switch token {
			case "good":
				return nil
			case "down":
				return errors.New("etvas unreachable")
			}
			return status.Error(codes.Unauthenticated, "unknown token")
		},
		Now: func() time.Time { return clock },
	}
	portal := func(token string) string {
		return `{"event":{"id":"e","type":"user.create"},"user":{"auth":{"token":"` + token + `"}}}`
	}
	tests := []struct {
		name    string
		path    string
		body    string
		headers map[string]string
		code    int
	}{
		{"portal genuine token", "/etvas-events", portal("good"), nil, 200},
		{"portal unknown token", "/etvas-events", portal("forged"), nil, 401},
		{"portal without token", "/etvas-events", `{"event":{"id":"e"}}`, nil, 401},
		{"portal token check unavailable", "/etvas-events", portal("down"), nil, 503},
		{"portal with key: no token check", "/etvas-events", portal("forged"), map[string]string{"x-api-key": apiKey}, 200},
		{"app format still needs the key", "/etvas/events", `{}`, nil, 401},
		{"avata unsigned: hint", "/webhooks/avata", `{}`, nil, 200},
		{"avata wrongly signed", "/webhooks/avata", `{}`, map[string]string{"X-Avata-Signature": avata.SignCallback([]byte("other"), []byte(`{}`))}, 403},
		{"avata signed", "/webhooks/avata", `{}`, map[string]string{"X-Avata-Signature": avata.SignCallback([]byte(avataSecret), []byte(`{}`))}, 200},
		{"scalepoint with token", "/webhooks/scalepoint", `{}`, map[string]string{"Authorization": "Bearer " + spToken}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			webhook.NewVerifier(cfg, webhook.NewRegistry()).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(200)
			})).ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
		})
	}
	if tokenCalls != 3 {
		t.Errorf("verify-token called %d times, want 3 (only portal events without x-api-key that carry a token)", tokenCalls)
	}
	// With an event secret the signature, not the token, verifies a portal event without key.
	cfg.EtvasEventSecret = eventSecret
	body := portal("forged")
	req := httptest.NewRequest(http.MethodPost, "/etvas-events", strings.NewReader(body))
	req.Header.Set(etvas.HeaderWebhookSignature, etvas.SignWebhook([]byte(eventSecret), []byte(body)))
	rec := httptest.NewRecorder()
	webhook.NewVerifier(cfg, webhook.NewRegistry()).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})).ServeHTTP(rec, req)
	if rec.Code != 200 || tokenCalls != 3 {
		t.Fatalf("signed portal event: %d, token calls %d", rec.Code, tokenCalls)
	}
}

func TestConfigProblems(t *testing.T) {
	ok := webhook.Config{EtvasAPIKey: "k", AvataCallbackSecret: "a", ScalepointWebhookToken: "s"}
	if p := ok.Problems(false); len(p) != 0 {
		t.Fatalf("strict, complete: %v", p)
	}
	tests := []struct {
		name string
		cfg  webhook.Config
		poll bool
		want string
	}{
		{"no etvas key", webhook.Config{AvataCallbackSecret: "a", ScalepointWebhookToken: "s"}, false, "etvas"},
		{"avata required without secret", webhook.Config{EtvasAPIKey: "k", ScalepointWebhookToken: "s"}, false, "avata-callback-secret"},
		{"scalepoint required without token", webhook.Config{EtvasAPIKey: "k", AvataCallbackSecret: "a"}, false, "scalepoint-webhook-token"},
		{"scalepoint optional without poll", webhook.Config{EtvasAPIKey: "k", AvataCallbackSecret: "a", ScalepointTokenOptional: true}, false, "scalepoint-poll"},
	}
	for _, tc := range tests {
		if p := tc.cfg.Problems(tc.poll); len(p) != 1 || !strings.Contains(p[0], tc.want) {
			t.Errorf("%s: %v", tc.name, p)
		}
	}
	lenient := webhook.Config{EtvasAPIKey: "k", AvataSignatureOptional: true, ScalepointTokenOptional: true}
	if p := lenient.Problems(true); len(p) != 0 {
		t.Errorf("lenient with poll: %v", p)
	}
}
