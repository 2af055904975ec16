package scalepoint_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	sandbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sendPath = "/api/events/v1/dk/external/covergate/send"

// fakeClock is wall time plus an offset tests move forward; the adapter and the sandbox
// share it, so "an hour later" is the same moment for both.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type env struct {
	sb    *sandbox.Server
	url   string
	clock *fakeClock
}

func startSandbox(t *testing.T, mutate func(*sandbox.Config)) env {
	t.Helper()
	clock := &fakeClock{}
	cfg := sandbox.DefaultConfig()
	cfg.Clock = clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	sb := sandbox.New(cfg)
	hs := httptest.NewServer(sb.Handler())
	t.Cleanup(func() {
		sb.Close()
		hs.Close()
	})
	return env{sb: sb, url: hs.URL, clock: clock}
}

func newClient(t *testing.T, e env, mutate func(*scalepoint.Config)) *scalepoint.Client {
	t.Helper()
	cfg := scalepoint.Config{
		BaseURL: e.url, Country: "dk", Tenant: "covergate",
		OAuth: scalepoint.OAuthConfig{
			TokenURL: e.url + "/connect/token", ClientID: sandbox.DefaultClientID,
			ClientSecret: sandbox.DefaultClientSecret, Clock: e.clock.Now, RetryBackoff: time.Millisecond,
		},
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := scalepoint.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func payload(eventType string) []byte {
	return fmt.Appendf(nil, `{"eventType":%q,"payloadVersion":"1.0.0","correlationId":%q,"timestamp":"2017-07-25T10:31:28.2519514Z","payment":{"status":"canceled","amount":1234.50}}`,
		eventType, uuid.NewString())
}

func newCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "covergate-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func countRequests(e env, path string) (n int) {
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := apierror.FromPartner(err) // the API edge's one translation
	if !ok {
		t.Fatalf("no partner error in %v", err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v", st)
	return nil
}

func TestPublish_ClientAuthentication(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e env, cfg *scalepoint.Config)
	}{
		{"client_secret basic", func(*testing.T, env, *scalepoint.Config) {}},
		{"client_secret in body", func(_ *testing.T, _ env, cfg *scalepoint.Config) { cfg.OAuth.SecretInBody = true }},
		{"client_secret with reserved characters", func(t *testing.T, e env, cfg *scalepoint.Config) {
			// RFC 6749 §2.3.1 form-encodes id and secret inside Basic; both sides must agree.
			if err := e.sb.RegisterClient(sandbox.Client{ID: "odd:client id", Secret: "p@ss:w%rd+/ ä"}); err != nil {
				t.Fatal(err)
			}
			cfg.OAuth.ClientID, cfg.OAuth.ClientSecret = "odd:client id", "p@ss:w%rd+/ ä"
		}},
		{"private_key_jwt parsed", func(t *testing.T, e env, cfg *scalepoint.Config) {
			cert, key := newCert(t)
			if err := e.sb.RegisterClient(sandbox.Client{ID: "cert-client", Certificate: cert}); err != nil {
				t.Fatal(err)
			}
			cfg.OAuth.ClientID, cfg.OAuth.ClientSecret, cfg.OAuth.Certificate, cfg.OAuth.Key = "cert-client", "", cert, key
		}},
		{"private_key_jwt files", func(t *testing.T, e env, cfg *scalepoint.Config) {
			cert, key := newCert(t)
			if err := e.sb.RegisterClient(sandbox.Client{ID: "file-client", Certificate: cert}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
			writePEM(t, certFile, "CERTIFICATE", cert.Raw)
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			writePEM(t, keyFile, "PRIVATE KEY", der)
			cfg.OAuth.ClientID, cfg.OAuth.ClientSecret, cfg.OAuth.CertFile, cfg.OAuth.KeyFile = "file-client", "", certFile, keyFile
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startSandbox(t, nil)
			c := newClient(t, e, func(cfg *scalepoint.Config) { tc.setup(t, e, cfg) })
			for want := int64(1); want <= 3; want++ {
				body := payload("payment_status_updated")
				id, err := c.Publish(context.Background(), "payment_status_updated", body)
				if err != nil || id != strconv.FormatInt(want, 10) {
					t.Fatalf("publish %d: id %q err %v", want, id, err)
				}
			}
			pubs := e.sb.Published()
			if len(pubs) != 3 || pubs[2].EventType != "payment_status_updated" {
				t.Fatalf("published %+v", pubs)
			}
			// The payload arrives byte for byte (the 1234.50 is not re-encoded as 1234.5).
			if !strings.Contains(string(pubs[0].Payload), `"amount":1234.50`) {
				t.Fatalf("payload changed: %s", pubs[0].Payload)
			}
			// Wire details as the document requires, secrets redacted in the journal.
			for _, r := range e.sb.Kit().Requests() {
				if r.Path != sendPath {
					continue
				}
				if r.Header["Content-Type"] != "application/json;charset=utf-8" || r.Header["Event-Type"] != "payment_status_updated" || r.Header["Authorization"] != sandboxkit.Redacted {
					t.Fatalf("send headers %v", r.Header)
				}
			}
			if s := e.sb.Stats(); s.TokenRequests != 1 {
				t.Fatalf("token requests %d, want 1", s.TokenRequests)
			}
		})
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestToken_Refused(t *testing.T) {
	registered, _ := newCert(t)
	otherCert, otherKey := newCert(t)
	tests := []struct {
		name       string
		oauth      func(*scalepoint.OAuthConfig)
		scopes     []string
		wantStatus int
		wantMsg    string
	}{
		{"wrong secret", func(o *scalepoint.OAuthConfig) { o.ClientSecret = "wrong-secret-value" }, nil, 401, "invalid_client"},
		{"unknown client", func(o *scalepoint.OAuthConfig) { o.ClientID = "stranger" }, nil, 401, "invalid_client"},
		{"wrong certificate", func(o *scalepoint.OAuthConfig) {
			o.ClientID, o.ClientSecret, o.Certificate, o.Key = "cert-client", "", otherCert, otherKey
		}, nil, 401, "invalid_client"},
		{"scope not allowed", func(*scalepoint.OAuthConfig) {}, []string{"events", "admin"}, 400, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startSandbox(t, nil)
			if err := e.sb.RegisterClient(sandbox.Client{ID: "cert-client", Certificate: registered}); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, e, func(cfg *scalepoint.Config) { tc.oauth(&cfg.OAuth); cfg.Scopes = tc.scopes })
			_, err := c.Publish(context.Background(), "case_created", payload("case_created"))
			var pe *partnerhttp.Error
			if !errors.As(err, &pe) || pe.Operation != "token" || pe.HTTPStatus != tc.wantStatus || !strings.Contains(pe.PartnerMessage, tc.wantMsg) {
				t.Fatalf("err %v (%#v)", err, pe)
			}
			if apierror.Code(err) != codes.Unavailable || errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED) {
				t.Fatalf("status %v", apierror.Normalize(err))
			}
			if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), sandbox.DefaultClientSecret) {
				t.Fatalf("secret in error: %v", err)
			}
			if countRequests(e, sendPath) != 0 || e.sb.Stats().TokenRequests != 1 {
				t.Fatalf("sent %d, token requests %d", countRequests(e, sendPath), e.sb.Stats().TokenRequests)
			}
		})
	}
}

func TestTokens_Config(t *testing.T) {
	cert, _ := newCert(t)
	_, otherKey := newCert(t)
	tests := []struct {
		name string
		cfg  scalepoint.OAuthConfig
	}{
		{"no token URL", scalepoint.OAuthConfig{ClientID: "a", ClientSecret: "b"}},
		{"no client id", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientSecret: "b"}},
		{"no credentials", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientID: "a"}},
		{"key does not match certificate", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientID: "a", Certificate: cert, Key: otherKey}},
		{"certificate without key", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientID: "a", Certificate: cert}},
		{"secret and certificate", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientID: "a", ClientSecret: "b", Certificate: cert, Key: otherKey}},
		{"missing files", scalepoint.OAuthConfig{TokenURL: "http://127.0.0.1/connect/token", ClientID: "a", CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := scalepoint.NewTokens(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestTokens_OneRequestForManyPublishes(t *testing.T) {
	e := startSandbox(t, nil)
	c := newClient(t, e, nil)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n { // concurrent, with no token cached yet
		wg.Go(func() {
			_, err := c.Publish(context.Background(), "case_created", payload("case_created"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range n { // sequential, reusing it
		if _, err := c.Publish(context.Background(), "case_created", payload("case_created")); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.sb.Stats(); s.TokenRequests != 1 || s.Published != 2*n {
		t.Fatalf("stats %+v, want 1 token request and %d publications", s, 2*n)
	}
	// The publication ids are unique: nothing was delivered twice.
	seen := map[int64]bool{}
	for _, p := range e.sb.Published() {
		if seen[p.ID] {
			t.Fatalf("id %d twice", p.ID)
		}
		seen[p.ID] = true
	}
}

func TestTokens_ScopeSets(t *testing.T) {
	e := startSandbox(t, nil)
	tokens, err := scalepoint.NewTokens(scalepoint.OAuthConfig{
		TokenURL: e.url + "/connect/token", ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := tokens.Token(ctx, "events", "case_integration")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tokens.Token(ctx, "case_integration", "events", "events") // same set, other order
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokens.Token(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessToken != b.AccessToken || a.AccessToken == c.AccessToken || e.sb.Stats().TokenRequests != 2 {
		t.Fatalf("a=b %v, a=c %v, token requests %d", a.AccessToken == b.AccessToken, a.AccessToken == c.AccessToken, e.sb.Stats().TokenRequests)
	}
	// Invalidating with a stale value keeps the current token.
	tokens.Invalidate("stale", "events")
	if d, _ := tokens.Token(ctx, "events"); d.AccessToken != c.AccessToken {
		t.Fatal("stale invalidation dropped the token")
	}
	tokens.Invalidate(c.AccessToken, "events")
	if d, _ := tokens.Token(ctx, "events"); d.AccessToken == c.AccessToken || e.sb.Stats().TokenRequests != 3 {
		t.Fatal("invalidation did not refresh exactly once")
	}
}

func TestTokens_ExpiredTokenOneRefresh(t *testing.T) {
	for _, auth := range []string{"client_secret", "private_key_jwt"} {
		t.Run(auth, func(t *testing.T) {
			e := startSandbox(t, func(c *sandbox.Config) { c.TokenTTL = 10 * time.Minute })
			c := newClient(t, e, func(cfg *scalepoint.Config) {
				if auth == "private_key_jwt" {
					cert, key := newCert(t)
					if err := e.sb.RegisterClient(sandbox.Client{ID: "cert-client", Certificate: cert}); err != nil {
						t.Fatal(err)
					}
					cfg.OAuth.ClientID, cfg.OAuth.ClientSecret, cfg.OAuth.Certificate, cfg.OAuth.Key = "cert-client", "", cert, key
				}
			})
			publish := func() {
				t.Helper()
				if _, err := c.Publish(context.Background(), "case_created", payload("case_created")); err != nil {
					t.Fatal(err)
				}
			}
			publish()
			e.clock.Advance(9 * time.Minute) // still more than EarlyRefresh (30 s) left
			publish()
			if n := e.sb.Stats().TokenRequests; n != 1 {
				t.Fatalf("token requests %d before expiry", n)
			}
			e.clock.Advance(45 * time.Second) // 15 s left: inside the early-refresh window
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(publish)
			}
			wg.Wait()
			if n := e.sb.Stats().TokenRequests; n != 2 {
				t.Fatalf("token requests %d, want exactly one refresh", n)
			}
			// No publish was refused: the old token was never used past its life.
			for _, r := range e.sb.Kit().Requests() {
				if r.Path == sendPath && r.Status != http.StatusCreated {
					t.Fatalf("send answered %d", r.Status)
				}
			}
		})
	}
}

func TestPublish_UnauthorizedMidLife(t *testing.T) {
	e := startSandbox(t, nil)
	c := newClient(t, e, nil)
	if _, err := c.Publish(context.Background(), "case_created", payload("case_created")); err != nil {
		t.Fatal(err)
	}
	e.sb.RevokeTokens() // Scalepoint forgets the token long before its expiry
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := c.Publish(context.Background(), "case_created", payload("case_created")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := e.sb.Stats(); s.TokenRequests != 2 || s.Published != 7 {
		t.Fatalf("stats %+v: want 2 token requests (one refresh) and 7 publications", s)
	}
	var unauthorized int
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == sendPath && r.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized < 1 || unauthorized > 6 {
		t.Fatalf("%d sends refused, want 1..6", unauthorized)
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func(t *testing.T, e env) error
		check    func(t *testing.T, err error)
		code     codes.Code
		reason   insurancev1.ErrorReason
		httpCode int
	}{
		{
			name: "incorrect payload",
			call: func(t *testing.T, e env) error {
				body := []byte(`{"eventType":"case_created","payloadVersion":"1.0.0","correlationId":"c-1","timestamp":"last tuesday"}`)
				_, err := newClient(t, e, nil).Publish(ctx, "case_created", body)
				return err
			},
			check: func(t *testing.T, err error) {
				var te *scalepoint.IncorrectPayloadError
				if !errors.As(err, &te) || te.Message != "Incorrect payload, invalid [timestamp]" {
					t.Fatalf("%T %v", err, err)
				}
			},
			code: codes.InvalidArgument, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, httpCode: 400,
		},
		{
			name: "insufficient scope",
			call: func(t *testing.T, e env) error {
				_, err := newClient(t, e, func(c *scalepoint.Config) { c.Scopes = []string{"case_integration"} }).
					Publish(ctx, "case_created", payload("case_created"))
				return err
			},
			check: func(t *testing.T, err error) {
				var te *scalepoint.InsufficientScopeError
				if !errors.As(err, &te) || te.Scope != "events" {
					t.Fatalf("%T %v", err, err)
				}
			},
			code: codes.Unavailable, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, httpCode: 403,
		},
		{
			name: "unauthorized even with a fresh token",
			call: func(t *testing.T, e env) error {
				issuer := startSandbox(t, nil) // tokens from another Scalepoint: never valid here
				c := newClient(t, e, func(c *scalepoint.Config) { c.OAuth.TokenURL = issuer.url + "/connect/token" })
				_, err := c.Publish(ctx, "case_created", payload("case_created"))
				if n := issuer.sb.Stats().TokenRequests; n != 2 {
					t.Fatalf("token requests %d, want 2 (one refresh after the 401)", n)
				}
				if n := countRequests(e, sendPath); n != 2 {
					t.Fatalf("sends %d, want 2", n)
				}
				return err
			},
			check: func(t *testing.T, err error) {
				var te *scalepoint.UnauthorizedError
				if !errors.As(err, &te) || te.Description != "Full authentication is required to access this resource" {
					t.Fatalf("%T %v", err, err)
				}
			},
			code: codes.Unavailable, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, httpCode: 401,
		},
		{
			name: "bad request (Spring body)",
			call: func(t *testing.T, e env) error {
				_, err := newClient(t, e, nil).Receive(ctx, "not-an-id")
				return err
			},
			check: func(t *testing.T, err error) {
				var te *scalepoint.BadRequestError
				if !errors.As(err, &te) || te.Path != "/api/events/v1/dk/external/covergate/receive" || te.Exception == "" {
					t.Fatalf("%T %v", err, err)
				}
			},
			code: codes.InvalidArgument, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, httpCode: 400,
		},
		{
			name: "unknown tenant",
			call: func(t *testing.T, e env) error {
				_, err := newClient(t, e, func(c *scalepoint.Config) { c.Tenant = "abcinsurance" }).Publish(ctx, "case_created", payload("case_created"))
				return err
			},
			check: func(*testing.T, error) {},
			code:  codes.NotFound, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, httpCode: 404,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startSandbox(t, nil)
			err := tc.call(t, e)
			tc.check(t, err)
			var pe *partnerhttp.Error
			if !errors.As(err, &pe) || pe.HTTPStatus != tc.httpCode || pe.Partner != "scalepoint" {
				t.Fatalf("partnerhttp.Error: %#v", pe)
			}
			info := errorInfo(t, err)
			if apierror.Code(err) != tc.code || info.Reason != apierror.Reason(tc.reason) || info.Domain != apierror.Domain ||
				info.Metadata["partner"] != "scalepoint" || info.Metadata["http_status"] != fmt.Sprint(tc.httpCode) {
				t.Fatalf("status %v info %v", apierror.Normalize(err), info)
			}
			if e.sb.Stats().Published != 0 {
				t.Fatal("a refused event was published")
			}
		})
	}
}

func TestPublish_RefusedLocally(t *testing.T) {
	e := startSandbox(t, nil)
	c := newClient(t, e, func(c *scalepoint.Config) { c.MaxPayloadBytes = 512 })
	tests := []struct {
		name      string
		eventType string
		body      string
		field     string
		reason    string
	}{
		{"not JSON", "case_created", `{"eventType":`, "payload", ""},
		{"array", "case_created", `[1,2]`, "payload", ""},
		{"missing envelope", "case_created", `{"eventType":"case_created","timestamp":"2017-07-25T10:31:28Z"}`, "payload.payloadVersion", ""},
		{"type mismatch", "case_settled", string(payload("case_created")), "event_type", ""},
		{"header injection", "case\r\nX-Evil: 1", string(payload("case_created")), "event_type", ""},
		{"too large", "case_created", strings.Replace(string(payload("case_created")), "canceled", strings.Repeat("x", 600), 1), "", "PARTNER_INPUT_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Publish(context.Background(), tc.eventType, []byte(tc.body))
			if apierror.Code(err) != codes.InvalidArgument {
				t.Fatalf("code %v: %v", apierror.Code(err), err)
			}
			if tc.reason != "" {
				if errorInfo(t, err).Reason != tc.reason {
					t.Fatalf("reason %v", errorInfo(t, err))
				}
				return
			}
			var ie *scalepoint.InvalidEventError
			if !errors.As(err, &ie) || ie.Violations[0].Field != tc.field {
				t.Fatalf("%v", err)
			}
			st, _ := apierror.FromPartner(err)
			if len(st.Details()) != 1 || st.Details()[0].(*errdetails.BadRequest).FieldViolations[0].Field != tc.field {
				t.Fatalf("details %v", st.Details())
			}
		})
	}
	if n := len(e.sb.Kit().Requests()); n != 0 {
		t.Fatalf("%d requests reached Scalepoint", n)
	}
}

func TestReceive_LongPoll(t *testing.T) {
	ctx := context.Background()
	t.Run("returns when an event arrives", func(t *testing.T) {
		e := startSandbox(t, func(c *sandbox.Config) { c.HoldTimeout = time.Hour })
		c := newClient(t, e, nil)
		type result struct {
			page scalepoint.Page
			err  error
		}
		done := make(chan result, 1)
		go func() {
			p, err := c.Receive(ctx, "")
			done <- result{p, err}
		}()
		waitForReceive(t, e)
		ev, err := e.sb.Enqueue(sandbox.EnqueueRequest{Type: "claim_updated", Attributes: json.RawMessage(`{"correlationId":"corr-1","claim":{"change":"CaseClosed","amount":0.30000000000000004}}`)})
		if err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || len(r.page.Events) != 1 {
			t.Fatalf("%+v", r)
		}
		got := r.page.Events[0]
		if got.ID != ev.ID || got.Type != "claim_updated" || got.Attributes.EventType != "claim_updated" ||
			got.Attributes.CorrelationID != "corr-1" || got.Attributes.PayloadVersion != "1.0.0" || r.page.Next != ev.ID {
			t.Fatalf("event %+v page %+v", got, r.page)
		}
		if _, err := got.Attributes.Time(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got.Attributes.Raw), `"amount":0.30000000000000004`) {
			t.Fatalf("raw attributes lost digits: %s", got.Attributes.Raw)
		}
	})
	t.Run("ends empty after the hold", func(t *testing.T) {
		e := startSandbox(t, func(c *sandbox.Config) { c.HoldTimeout = 20 * time.Millisecond })
		p, err := newClient(t, e, nil).Receive(ctx, "_122100")
		if err != nil || len(p.Events) != 0 || p.Next != "_122100" {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("resumes from the last processed id", func(t *testing.T) {
		e := startSandbox(t, func(c *sandbox.Config) { c.HoldTimeout = 20 * time.Millisecond; c.PageSize = 2 })
		c := newClient(t, e, nil)
		for _, typ := range []string{"case_created", "claim_updated", "claimline_changed", "case_settled", "order_created"} {
			if _, err := e.sb.Enqueue(sandbox.EnqueueRequest{Type: typ}); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		last := ""
		for range 4 {
			p, err := c.Receive(ctx, last)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range p.Events {
				got = append(got, ev.ID+"="+ev.Type)
			}
			last = p.Next
		}
		want := "_122047=case_created _122048=claim_updated _122049=claimline_changed _122050=case_settled _122051=order_created"
		if strings.Join(got, " ") != want || last != "_122051" {
			t.Fatalf("got %v (last %s)", got, last)
		}
	})
	t.Run("attempt timeout shorter than the hold", func(t *testing.T) {
		e := startSandbox(t, func(c *sandbox.Config) { c.HoldTimeout = time.Hour })
		c := newClient(t, e, func(c *scalepoint.Config) { c.ReceiveTimeout = 50 * time.Millisecond; c.MaxAttempts = 2 })
		_, err := c.Receive(ctx, "")
		if apierror.Code(err) != codes.DeadlineExceeded || errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT) {
			t.Fatalf("%v", err)
		}
	})
}

func waitForReceive(t *testing.T, e env) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for countRequests(e, "/api/events/v1/dk/external/covergate/receive") == 0 {
		select {
		case <-deadline:
			t.Fatal("the poll never reached the sandbox")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("5xx on publish is not retried", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		e.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 503, Paths: []string{sendPath}})
		_, err := c.Publish(ctx, "case_created", payload("case_created"))
		var pe *partnerhttp.Error
		if !errors.As(err, &pe) || pe.HTTPStatus != 503 || apierror.Code(err) != codes.Unavailable {
			t.Fatalf("%v", err)
		}
		if n := countRequests(e, sendPath); n != 1 {
			t.Fatalf("%d sends: a non-idempotent publish was retried", n)
		}
		if id, err := c.Publish(ctx, "case_created", payload("case_created")); err != nil || id != "1" {
			t.Fatalf("after the fault: %q %v", id, err)
		}
	})
	t.Run("429 with Retry-After is retried", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		e.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 1, Paths: []string{sendPath}})
		id, err := c.Publish(ctx, "case_created", payload("case_created"))
		if err != nil || id != "1" {
			t.Fatalf("%q %v", id, err)
		}
		var statuses []int
		for _, r := range e.sb.Kit().Requests() {
			if r.Path == sendPath {
				statuses = append(statuses, r.Status)
			}
		}
		if fmt.Sprint(statuses) != "[429 201]" {
			t.Fatalf("send statuses %v", statuses)
		}
	})
	t.Run("429 with Retry-After past the deadline", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		e.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 20, Paths: []string{sendPath}})
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := c.Publish(ctx, "case_created", payload("case_created"))
		var pe *partnerhttp.Error
		if !errors.As(err, &pe) || pe.RetryAfter != 20*time.Second || apierror.Code(err) != codes.ResourceExhausted {
			t.Fatalf("%v", err)
		}
	})
	t.Run("5xx then success on receive", func(t *testing.T) {
		e := startSandbox(t, func(c *sandbox.Config) { c.HoldTimeout = 10 * time.Millisecond })
		c := newClient(t, e, nil)
		if _, err := e.sb.Enqueue(sandbox.EnqueueRequest{Type: "case_created"}); err != nil {
			t.Fatal(err)
		}
		e.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 2, Status: 502})
		p, err := c.Receive(ctx, "")
		if err != nil || len(p.Events) != 1 {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("latency beyond the caller's deadline", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		if _, err := c.Tokens().Token(ctx, "events"); err != nil { // token first: only the send is slow
			t.Fatal(err)
		}
		e.sb.Kit().SetFaults(sandboxkit.Faults{LatencyMS: 5000, Paths: []string{sendPath}})
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := c.Publish(ctx, "case_created", payload("case_created"))
		if apierror.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("%v", err)
		}
	})
	t.Run("outage opens the breaker, which recovers", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, func(c *scalepoint.Config) {
			c.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: 300 * time.Millisecond, HalfOpenProbes: 1}
		})
		if _, err := c.Tokens().Token(ctx, "events"); err != nil {
			t.Fatal(err)
		}
		e.sb.Kit().SetFaults(sandboxkit.Faults{OutageSeconds: 3600, Paths: []string{"/api/"}})
		for range 3 {
			if _, err := c.Publish(ctx, "case_created", payload("case_created")); apierror.Code(err) != codes.Unavailable {
				t.Fatalf("during outage: %v", err)
			}
		}
		if c.BreakerState() != "open" {
			t.Fatalf("breaker %s", c.BreakerState())
		}
		_, err := c.Publish(ctx, "case_created", payload("case_created"))
		if errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN) {
			t.Fatalf("open breaker: %v", err)
		}
		if n := countRequests(e, sendPath); n != 3 {
			t.Fatalf("%d sends reached the partner, want 3 (the 4th was refused locally)", n)
		}
		e.sb.Kit().SetFaults(sandboxkit.Faults{}) // Scalepoint is back
		waitFor(t, func() bool { return c.BreakerState() != "open" })
		if id, err := c.Publish(ctx, "case_created", payload("case_created")); err != nil || id != "1" {
			t.Fatalf("after recovery: %q %v", id, err)
		}
		if c.BreakerState() != "closed" {
			t.Fatalf("breaker %s", c.BreakerState())
		}
	})
	t.Run("token endpoint 503 then success", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		e.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 2, Status: 503, Paths: []string{"/connect/token"}})
		if _, err := c.Publish(ctx, "case_created", payload("case_created")); err != nil {
			t.Fatal(err)
		}
		if s := e.sb.Stats(); s.TokenRequests != 1 || countRequests(e, "/connect/token") != 3 {
			t.Fatalf("handled token requests %d, journaled %d", s.TokenRequests, countRequests(e, "/connect/token"))
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		e := startSandbox(t, nil)
		c := newClient(t, e, nil)
		e.sb.Kit().SetFaults(sandboxkit.Faults{OutageSeconds: 3600, Paths: []string{"/connect/token"}})
		_, err := c.Publish(ctx, "case_created", payload("case_created"))
		if apierror.Code(err) != codes.Unavailable || errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE) {
			t.Fatalf("%v", err)
		}
		if n := countRequests(e, "/connect/token"); n != 3 {
			t.Fatalf("%d token attempts, want 3", n)
		}
		if countRequests(e, sendPath) != 0 {
			t.Fatal("published without a token")
		}
	})
}

// waitFor polls a condition that a real clock makes true (the breaker's open period).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition never became true")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"webhook body", `{"id":"_122047","type":"case_created","timestamp":"2026-11-23T02:00:00Z","attributes":{"eventType":"case_created","payloadVersion":"1.0.0","correlationId":"c","timestamp":"2026-11-23T02:00:00Z","case":{"id":1}}}`, true},
		{"numeric timestamp, no type", `{"id":"_1","timestamp":1700000000000,"attributes":{"eventType":"case_created"}}`, true},
		{"no id", `{"type":"x","attributes":{"eventType":"x"}}`, false},
		{"no attributes", `{"id":"_1","type":"x"}`, false},
		{"attributes not an object", `{"id":"_1","attributes":[1]}`, false},
		{"no eventType", `{"id":"_1","attributes":{"payloadVersion":"1"}}`, false},
		{"trailing data", `{"id":"_1","attributes":{"eventType":"x"}} {}`, false},
		{"not JSON", `<html>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := scalepoint.ParseEvent([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if tc.ok && (ev.Type != ev.Attributes.EventType || len(ev.Attributes.Raw) == 0 || ev.Timestamp == "") {
				t.Fatalf("%+v", ev)
			}
		})
	}
}

func TestVerifyWebhookAuth(t *testing.T) {
	tests := []struct {
		header, token string
		missing, ok   bool
	}{
		{"Bearer s3cret", "s3cret", false, true},
		{"bearer s3cret", "s3cret", false, true},
		{"Bearer s3cre", "s3cret", false, false},
		{"Bearer ", "s3cret", true, false},
		{"", "s3cret", true, false},
		{"Basic czNjcmV0", "s3cret", true, false},
		{"Bearer anything", "", false, false},
	}
	for _, tc := range tests {
		err := scalepoint.VerifyWebhookAuth(tc.header, tc.token)
		if tc.ok != (err == nil) {
			t.Fatalf("%q: %v", tc.header, err)
		}
		if err == nil {
			continue
		}
		var we *scalepoint.WebhookAuthError
		if !errors.As(err, &we) || we.Missing != tc.missing || apierror.Code(err) != codes.Unauthenticated {
			t.Fatalf("%q: %v", tc.header, err)
		}
	}
}

// A token living less than twice EarlyRefresh is refreshed at half-life, not on every call.
func TestTokens_ShortLifetime(t *testing.T) {
	e := startSandbox(t, func(c *sandbox.Config) { c.TokenTTL = 20 * time.Second })
	c := newClient(t, e, nil) // EarlyRefresh 30 s by default
	publish := func() {
		t.Helper()
		if _, err := c.Publish(context.Background(), "case_created", payload("case_created")); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	publish()
	e.clock.Advance(9 * time.Second)
	publish()
	if n := e.sb.Stats().TokenRequests; n != 1 {
		t.Fatalf("token requests %d before half-life", n)
	}
	e.clock.Advance(2 * time.Second)
	publish()
	if n := e.sb.Stats().TokenRequests; n != 2 {
		t.Fatalf("token requests %d after half-life", n)
	}
}

// A caller waiting for another caller's token request gives up with its own deadline, and
// the request in flight still fills the cache for everyone else.
func TestTokens_WaitHonoursContext(t *testing.T) {
	e := startSandbox(t, nil)
	tokens, err := scalepoint.NewTokens(scalepoint.OAuthConfig{
		TokenURL: e.url + "/connect/token", ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	e.sb.Kit().SetFaults(sandboxkit.Faults{LatencyMS: 300, Paths: []string{"/connect/token"}})
	first := make(chan error, 1)
	go func() {
		_, err := tokens.Token(context.Background(), "events")
		first <- err
	}()
	waitFor(t, func() bool { return countRequests(e, "/connect/token") == 1 }) // the slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = tokens.Token(ctx, "events")
	if apierror.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("waiting caller: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Token(context.Background(), "events"); err != nil || e.sb.Stats().TokenRequests != 1 {
		t.Fatalf("%v, token requests %d", err, e.sb.Stats().TokenRequests)
	}
}
