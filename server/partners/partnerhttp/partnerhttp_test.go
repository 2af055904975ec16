package partnerhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/partnerhttp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// script answers requests from a list of canned responses (the last one repeats) and
// records when each request arrived.
type script struct {
	mu       sync.Mutex
	steps    []step
	arrivals []time.Time
	requests []*http.Request
	bodies   [][]byte
}

type step struct {
	status int
	header map[string]string
	body   string
	block  bool // wait for the client to give up
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := len(s.arrivals)
	s.arrivals = append(s.arrivals, time.Now())
	s.requests = append(s.requests, r.Clone(context.Background()))
	s.bodies = append(s.bodies, body)
	st := s.steps[min(i, len(s.steps)-1)]
	s.mu.Unlock()
	if st.block {
		<-r.Context().Done()
		return
	}
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(st.status)
	_, _ = io.WriteString(w, st.body)
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

func (s *script) set(steps ...step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = steps
	s.arrivals = nil
}

func newServer(t *testing.T, steps ...step) (*script, *httptest.Server) {
	t.Helper()
	s := &script{steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func newClient(t *testing.T, baseURL string, mutate func(*partnerhttp.Config)) *partnerhttp.Client {
	t.Helper()
	cfg := partnerhttp.Config{
		Partner:        "etvas",
		BaseURL:        baseURL,
		AttemptTimeout: 5 * time.Second,
		MaxAttempts:    3,
		BaseBackoff:    time.Millisecond,
		MaxBackoff:     2 * time.Millisecond,
		Breaker:        partnerhttp.BreakerConfig{ConsecutiveFailures: 100, OpenDuration: time.Minute},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := partnerhttp.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func asError(t *testing.T, err error) *partnerhttp.Error {
	t.Helper()
	var perr *partnerhttp.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v (%T) is not a *partnerhttp.Error", err, err)
	}
	return perr
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  partnerhttp.Config
		ok   bool
	}{
		{"valid", partnerhttp.Config{Partner: "etvas", BaseURL: "https://api.etvas.com"}, true},
		{"valid with path", partnerhttp.Config{Partner: "etvas", BaseURL: "http://127.0.0.1:1/v1/"}, true},
		{"no partner", partnerhttp.Config{BaseURL: "https://api.etvas.com"}, false},
		{"no scheme", partnerhttp.Config{Partner: "etvas", BaseURL: "api.etvas.com"}, false},
		{"ftp", partnerhttp.Config{Partner: "etvas", BaseURL: "ftp://api.etvas.com"}, false},
		{"credentials", partnerhttp.Config{Partner: "etvas", BaseURL: "https://user:pw@api.etvas.com"}, false},
		{"query", partnerhttp.Config{Partner: "etvas", BaseURL: "https://api.etvas.com/?key=1"}, false},
		{"garbage", partnerhttp.Config{Partner: "etvas", BaseURL: "http://[::1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := partnerhttp.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New err = %v, want ok=%v", err, tt.ok)
			}
			if c != nil {
				c.Close()
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Fatalf("error leaks credentials: %v", err)
			}
		})
	}
}

func TestRetryRules(t *testing.T) {
	tests := []struct {
		name       string
		idempotent bool
		steps      []step
		wantCalls  int
		wantKind   partnerhttp.Kind // "" = success
	}{
		{"idempotent 503 then success", true, []step{{status: 503}, {status: 503}, {status: 200, body: `{}`}}, 3, ""},
		{"idempotent 502 then success", true, []step{{status: 502}, {status: 200, body: `{}`}}, 2, ""},
		{"idempotent 504 then success", true, []step{{status: 504}, {status: 200, body: `{}`}}, 2, ""},
		{"idempotent 503 exhausts attempts", true, []step{{status: 503}}, 3, partnerhttp.KindUnavailable},
		{"non-idempotent 503 is not retried", false, []step{{status: 503}, {status: 200}}, 1, partnerhttp.KindUnavailable},
		{"500 is not retried", true, []step{{status: 500}, {status: 200}}, 1, partnerhttp.KindUnavailable},
		{"non-idempotent 429 is retried", false, []step{{status: 429}, {status: 201, body: `{}`}}, 2, ""},
		{"429 exhausts attempts", true, []step{{status: 429}}, 3, partnerhttp.KindRateLimited},
		{"400 is not retried", true, []step{{status: 400}, {status: 200}}, 1, partnerhttp.KindRejected},
		{"422 rejected", true, []step{{status: 422}}, 1, partnerhttp.KindRejected},
		{"401 auth failed", true, []step{{status: 401}}, 1, partnerhttp.KindUnauthorized},
		{"403 auth failed", true, []step{{status: 403}}, 1, partnerhttp.KindUnauthorized},
		{"404 not found", true, []step{{status: 404}}, 1, partnerhttp.KindNotFound},
		{"409 conflict", true, []step{{status: 409}}, 1, partnerhttp.KindConflict},
		{"413 too large", true, []step{{status: 413}}, 1, partnerhttp.KindInputTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newServer(t, tt.steps...)
			c := newClient(t, srv.URL, nil)
			resp, err := c.Do(context.Background(), partnerhttp.Request{
				Operation: "op", Method: http.MethodPost, Path: "/x", Body: []byte(`{"a":1}`),
				ContentType: "application/json", Idempotent: tt.idempotent,
			})
			if got := s.calls(); got != tt.wantCalls {
				t.Errorf("partner saw %d calls, want %d", got, tt.wantCalls)
			}
			if tt.wantKind == "" {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if resp.Status/100 != 2 {
					t.Fatalf("status %d", resp.Status)
				}
				// Every retry must resend the exact same body.
				for i, b := range s.bodies {
					if string(b) != `{"a":1}` {
						t.Errorf("attempt %d body = %q", i+1, b)
					}
				}
				return
			}
			perr := asError(t, err)
			if perr.Kind != tt.wantKind || partnerhttp.KindOf(err) != tt.wantKind {
				t.Fatalf("got kind %q, want %q", perr.Kind, tt.wantKind)
			}
		})
	}
}

func TestTransportErrorRetriedOnlyWhenIdempotent(t *testing.T) {
	// A listener that accepts and immediately closes: a transport error every time.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	for _, tt := range []struct {
		idempotent bool
		want       int32
	}{{true, 3}, {false, 1}} {
		t.Run(fmt.Sprint("idempotent=", tt.idempotent), func(t *testing.T) {
			accepted.Store(0)
			obs := &recordingObserver{}
			c := newClient(t, "http://"+ln.Addr().String(), func(cfg *partnerhttp.Config) { cfg.Observer = obs })
			method := http.MethodPost
			if tt.idempotent {
				method = http.MethodPut
			}
			_, err := c.Do(context.Background(), partnerhttp.Request{
				Operation: "op", Method: method, Path: "/x", Idempotent: tt.idempotent, Body: []byte("{}"),
				Query: url.Values{"email": {"jane@example.com"}},
			})
			perr := asError(t, err)
			if perr.Kind != partnerhttp.KindUnavailable || perr.HTTPStatus != 0 {
				t.Fatalf("got %v/%d", perr.Kind, perr.HTTPStatus)
			}
			if strings.Contains(err.Error(), "jane") || strings.Contains(err.Error(), "email=") {
				t.Fatalf("transport error leaks the URL query: %v", err)
			}
			// Attempts as Do made them (the observer sees each one); net/http may add its
			// own replay of an idempotent request on a fresh connection, so connections
			// are only a lower bound.
			_, outcomes := obs.snapshot()
			if int32(len(outcomes)) != tt.want {
				t.Fatalf("%d attempts (%v), want %d", len(outcomes), outcomes, tt.want)
			}
			for _, o := range outcomes {
				if o != "etvas/op/0/unavailable" {
					t.Fatalf("outcome %q", o)
				}
			}
			if accepted.Load() < tt.want {
				t.Fatalf("only %d connections for %d attempts", accepted.Load(), tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		idempotent bool
		header     func() string
		minWait    time.Duration
	}{
		{"429 seconds", 429, false, func() string { return "1" }, time.Second},
		{"429 http date", 429, false, func() string { return time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat) }, time.Second},
		{"503 seconds, idempotent", 503, true, func() string { return "1" }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newServer(t, step{status: tt.status, header: map[string]string{"Retry-After": tt.header()}}, step{status: 200, body: "{}"})
			c := newClient(t, srv.URL, nil) // backoff is 1-2ms: only Retry-After explains a long gap
			if _, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "POST", Path: "/p", Idempotent: tt.idempotent}); err != nil {
				t.Fatalf("Do: %v", err)
			}
			if s.calls() != 2 {
				t.Fatalf("calls = %d, want 2", s.calls())
			}
			if gap := s.arrivals[1].Sub(s.arrivals[0]); gap < tt.minWait {
				t.Fatalf("retried after %s, Retry-After asked for at least %s", gap, tt.minWait)
			}
		})
	}
}

func TestRetryAfterBeyondBudgetStopsAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration
		maxWait  time.Duration
	}{
		{"beyond ctx deadline", 2 * time.Second, 0},
		{"beyond MaxRetryAfter", 0, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newServer(t, step{status: 429, header: map[string]string{"Retry-After": "120"}, body: `{"message":"slow down"}`}, step{status: 200})
			c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) { cfg.MaxRetryAfter = tt.maxWait })
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			_, err := c.Do(ctx, partnerhttp.Request{Operation: "op", Method: "GET", Path: "/p", Idempotent: true})
			perr := asError(t, err)
			if perr.RetryAfter != 120*time.Second {
				t.Fatalf("RetryAfter = %s", perr.RetryAfter)
			}
			if perr.Kind != partnerhttp.KindRateLimited || perr.PartnerMessage != "slow down" {
				t.Fatalf("got %v %q", perr.Kind, perr.PartnerMessage)
			}
			if ctx.Err() != nil {
				t.Fatal("Do waited until the deadline instead of returning at once")
			}
			if s.calls() != 1 {
				t.Fatalf("calls = %d", s.calls())
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"7", 7 * time.Second},
		{" 30 ", 30 * time.Second},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Mon, 23 Nov 2026 02:00:10 GMT", 10 * time.Second},
		{"soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := partnerhttp.ParseRetryAfter(tt.in, now); got != tt.want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name           string
		attemptTimeout time.Duration
		ctxTimeout     time.Duration
		idempotent     bool
		wantCalls      int
	}{
		{"attempt timeout retried when idempotent", 50 * time.Millisecond, 0, true, 3},
		{"attempt timeout not retried otherwise", 50 * time.Millisecond, 0, false, 1},
		{"attempt bounded by ctx deadline", time.Hour, 100 * time.Millisecond, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newServer(t, step{block: true})
			c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) { cfg.AttemptTimeout = tt.attemptTimeout })
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			_, err := c.Do(ctx, partnerhttp.Request{Operation: "op", Method: "GET", Path: "/slow", Idempotent: tt.idempotent})
			perr := asError(t, err)
			if perr.Kind != partnerhttp.KindTimeout {
				t.Fatalf("got %v", perr.Kind)
			}
			if s.calls() != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", s.calls(), tt.wantCalls)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	_, srv := newServer(t, step{block: true})
	c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) { cfg.Breaker.ConsecutiveFailures = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := c.Do(ctx, partnerhttp.Request{Operation: "op", Method: "GET", Path: "/", Idempotent: true})
	if perr := asError(t, err); perr.Kind != partnerhttp.KindCanceled {
		t.Fatalf("kind = %v", perr.Kind)
	}
	if c.BreakerState() != "closed" {
		t.Fatal("a caller's cancellation must not count against the partner")
	}
}

type recordingObserver struct {
	mu          sync.Mutex
	transitions []string
	outcomes    []string
}

func (o *recordingObserver) ObserveCall(partner, op string, httpStatus int, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, fmt.Sprintf("%s/%s/%d/%s", partner, op, httpStatus, outcome))
}

func (o *recordingObserver) BreakerStateChanged(partner, from, to string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.transitions = append(o.transitions, partner+":"+from+"->"+to)
}

func (o *recordingObserver) snapshot() ([]string, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.transitions...), append([]string(nil), o.outcomes...)
}

func waitForState(t *testing.T, c *partnerhttp.Client, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.BreakerState() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker stayed %s, want %s", c.BreakerState(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCircuitBreaker(t *testing.T) {
	s, srv := newServer(t, step{status: 500})
	obs := &recordingObserver{}
	c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
		cfg.MaxAttempts = 1
		cfg.Observer = obs
		cfg.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: 200 * time.Millisecond, HalfOpenProbes: 1}
	})
	call := func() error {
		_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"})
		return err
	}
	for range 3 {
		if err := call(); asError(t, err).Kind != partnerhttp.KindUnavailable {
			t.Fatalf("want unavailable, got %v", err)
		}
	}
	if c.BreakerState() != "open" {
		t.Fatalf("breaker %s after 3 failures", c.BreakerState())
	}
	// Open: rejected without reaching the partner.
	err := call()
	if perr := asError(t, err); perr.Kind != partnerhttp.KindCircuitOpen {
		t.Fatalf("got %v", perr.Kind)
	}
	if s.calls() != 3 {
		t.Fatalf("open breaker let a call through: %d calls", s.calls())
	}
	// Half-open probe that fails re-opens it.
	waitForState(t, c, "half-open")
	_ = call()
	if c.BreakerState() != "open" {
		t.Fatalf("failed probe left breaker %s", c.BreakerState())
	}
	// Partner recovers: the next probe closes it.
	s.set(step{status: 200, body: "{}"})
	waitForState(t, c, "half-open")
	if err := call(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if c.BreakerState() != "closed" {
		t.Fatalf("successful probe left breaker %s", c.BreakerState())
	}
	transitions, outcomes := obs.snapshot()
	want := []string{"etvas:closed->open", "etvas:open->half-open", "etvas:half-open->open", "etvas:open->half-open", "etvas:half-open->closed"}
	if strings.Join(transitions, ",") != strings.Join(want, ",") {
		t.Fatalf("transitions = %v, want %v", transitions, want)
	}
	if !contains(outcomes, "etvas/op/0/circuit_open") || !contains(outcomes, "etvas/op/500/unavailable") || !contains(outcomes, "etvas/op/200/ok") {
		t.Fatalf("outcomes = %v", outcomes)
	}
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	for _, st := range []int{400, 404, 409, 422} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			_, srv := newServer(t, step{status: st})
			c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
				cfg.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Minute}
			})
			for range 5 {
				_, _ = c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"})
			}
			if c.BreakerState() != "closed" {
				t.Fatalf("our own bad input opened the breaker")
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestErrorInfoAndRedaction(t *testing.T) {
	const secret = "sk_live_SUPERSECRET"
	tests := []struct {
		name        string
		status      int
		body        string
		wantMessage string
	}{
		{"message field", 404, `{"message":"Policy not found","code":"NOT_FOUND","debug":"` + secret + `"}`, "Policy not found"},
		{"email redacted", 400, `{"message":"invalid email jane.doe@example.com given"}`, "invalid email [redacted] given"},
		{"phone redacted", 422, `{"message":"phone +49 170 1234567 invalid"}`, "phone [redacted] invalid"},
		{"oauth error", 400, `{"error":"invalid_client","error_description":"client assertion expired"}`, "client assertion expired"},
		{"html body", 502, `<html>` + secret + `</html>`, ""},
		{"control chars", 409, `{"message":"line1\nline2\u0007"}`, "line1 line2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newServer(t, step{status: tt.status, body: tt.body})
			c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
				cfg.Authorize = func(_ context.Context, r *http.Request, _ []byte) error {
					r.Header.Set("x-api-key", secret)
					return nil
				}
			})
			_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "get_policy", Method: "GET", Path: "/p"})
			perr := asError(t, err)
			if perr.PartnerMessage != tt.wantMessage {
				t.Fatalf("PartnerMessage = %q, want %q", perr.PartnerMessage, tt.wantMessage)
			}
			if string(perr.Body) != tt.body {
				t.Fatalf("Body not kept for the partner package")
			}
			// What the caller sees, through the API edge's one translation.
			st, ok := apierror.FromPartner(err)
			if !ok {
				t.Fatal("apierror.FromPartner does not recognise the partner error")
			}
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if ei, ok := d.(*errdetails.ErrorInfo); ok {
					info = ei
				}
			}
			if info == nil {
				t.Fatal("no ErrorInfo in status")
			}
			if info.Domain != apierror.Domain || info.Reason == "" {
				t.Fatalf("ErrorInfo = %v", info)
			}
			md := info.Metadata
			if md["partner"] != "etvas" || md["operation"] != "get_policy" || md["http_status"] != fmt.Sprint(tt.status) || md["partner_message"] != tt.wantMessage {
				t.Fatalf("metadata = %v", md)
			}
			for _, text := range []string{err.Error(), st.Message(), fmt.Sprint(md)} {
				if strings.Contains(text, secret) || strings.Contains(text, "jane") || strings.Contains(text, "1234567") {
					t.Fatalf("secret or PII leaked: %s", text)
				}
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	t.Run("called per attempt with the body", func(t *testing.T) {
		s, srv := newServer(t, step{status: 503}, step{status: 200, body: "{}"})
		var calls atomic.Int32
		c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
			cfg.Authorize = func(_ context.Context, r *http.Request, body []byte) error {
				n := calls.Add(1)
				r.Header.Set("x-attempt", fmt.Sprint(n))
				r.Header.Set("x-body", string(body))
				return nil
			}
		})
		if _, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "PUT", Path: "/", Body: []byte("abc"), Idempotent: true}); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 2 || s.requests[1].Header.Get("x-attempt") != "2" || s.requests[1].Header.Get("x-body") != "abc" {
			t.Fatalf("authorize calls %d, headers %v", calls.Load(), s.requests[1].Header)
		}
	})
	t.Run("plain error", func(t *testing.T) {
		s, srv := newServer(t, step{status: 200})
		c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
			cfg.Authorize = func(context.Context, *http.Request, []byte) error { return errors.New("token endpoint down") }
		})
		_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"})
		if perr := asError(t, err); perr.Kind != partnerhttp.KindUnauthorized {
			t.Fatalf("got %v", perr)
		}
		if s.calls() != 0 {
			t.Fatal("request sent despite failed authorization")
		}
	})
	t.Run("typed error passes through", func(t *testing.T) {
		_, srv := newServer(t, step{status: 200})
		want := &partnerhttp.Error{Partner: "scalepoint", Operation: "token", Kind: partnerhttp.KindTimeout}
		c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
			cfg.Authorize = func(context.Context, *http.Request, []byte) error { return fmt.Errorf("wrapped: %w", want) }
		})
		_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"})
		if asError(t, err) != want {
			t.Fatalf("got %v", err)
		}
	})
}

func TestDoJSON(t *testing.T) {
	t.Run("exact numbers and request encoding", func(t *testing.T) {
		s, srv := newServer(t, step{status: 200, body: `{"premium":0.30000000000000004,"amount":1.123456789012345678,"id":12345678901234567890}`})
		c := newClient(t, srv.URL, nil)
		var out map[string]any
		in := map[string]string{"token": "t"}
		if err := c.DoJSON(context.Background(), partnerhttp.Request{Operation: "op", Method: "POST", Path: "/v"}, in, &out); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"premium": "0.30000000000000004", "amount": "1.123456789012345678", "id": "12345678901234567890"} {
			if n, ok := out[k].(json.Number); !ok || n.String() != want {
				t.Fatalf("%s = %#v, want json.Number %s", k, out[k], want)
			}
		}
		if got := s.requests[0].Header.Get("Content-Type"); got != "application/json" {
			t.Fatalf("content type %q", got)
		}
		if got := s.requests[0].Header.Get("Accept"); got != "application/json" {
			t.Fatalf("accept %q", got)
		}
		if string(s.bodies[0]) != `{"token":"t"}` {
			t.Fatalf("body %q", s.bodies[0])
		}
	})
	for _, body := range []string{"", "not json", `{"a":1} trailing`, `[1,2]`} {
		t.Run("bad response "+body, func(t *testing.T) {
			_, srv := newServer(t, step{status: 200, body: body})
			c := newClient(t, srv.URL, nil)
			var out struct{ A int }
			err := c.DoJSON(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"}, nil, &out)
			if perr := asError(t, err); perr.Kind != partnerhttp.KindBadResponse {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestPathHandling(t *testing.T) {
	s, srv := newServer(t, step{status: 200, body: "{}"})
	c := newClient(t, srv.URL+"/api/", nil)
	_, err := c.Do(context.Background(), partnerhttp.Request{
		Operation: "op", Method: "GET", Path: "/external-data/" + url.PathEscape("a/b c"),
		Query: url.Values{"include": {"address"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.requests[0].RequestURI; got != "/api/external-data/a%2Fb%20c?include=address" {
		t.Fatalf("request URI %q", got)
	}
	for _, bad := range []string{"/x?y=1", "/x#frag"} {
		_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: bad})
		if perr := asError(t, err); perr.Kind != partnerhttp.KindInternal {
			t.Fatalf("path %q: got %v", bad, err)
		}
	}
	if s.calls() != 1 {
		t.Fatalf("bad paths reached the partner")
	}
}

func TestResponseTooLarge(t *testing.T) {
	_, srv := newServer(t, step{status: 200, body: strings.Repeat("x", 2048)})
	c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) { cfg.MaxResponseBytes = 1024 })
	_, err := c.Do(context.Background(), partnerhttp.Request{Operation: "op", Method: "GET", Path: "/"})
	if perr := asError(t, err); perr.Kind != partnerhttp.KindBadResponse {
		t.Fatalf("got %v", err)
	}
}

func TestSanitizeMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U bad", "token [redacted] bad"},
		{"wallet 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 unknown", "wallet [redacted] unknown"},
		{"card 4111 1111 1111 1111", "card [redacted]"},
		{strings.Repeat("z", 500), strings.Repeat("z", 159) + "…"},
	}
	for _, tt := range tests {
		if got := partnerhttp.SanitizeMessage(tt.in); got != tt.want {
			t.Errorf("SanitizeMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
