package etvas_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	etvassandbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock shared by the sandbox and the adapter, so token expiry,
// cache expiry and outage windows can be moved without sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	sandbox *etvassandbox.Server
	srv     *httptest.Server
	client  *etvas.Client
	clock   *clock
}

// setup starts an Etvas sandbox on a random loopback port and an adapter pointed at it.
func setup(t *testing.T, sbCfg func(*etvassandbox.Config), clCfg func(*etvas.Config)) *env {
	t.Helper()
	clk := newClock()
	sc := etvassandbox.DefaultConfig()
	sc.Clock = clk.Now
	if sbCfg != nil {
		sbCfg(&sc)
	}
	sb := etvassandbox.New(sc)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	cc := etvas.Config{
		BaseURL: srv.URL, APIKey: etvassandbox.DefaultAPIKey, Clock: clk.Now,
		AttemptTimeout: 5 * time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	}
	if clCfg != nil {
		clCfg(&cc)
	}
	c, err := etvas.New(cc)
	if err != nil {
		t.Fatalf("etvas.New: %v", err)
	}
	t.Cleanup(c.Close)
	return &env{sandbox: sb, srv: srv, client: c, clock: clk}
}

func (e *env) mint(t *testing.T, req etvassandbox.MintRequest) etvassandbox.MintResponse {
	t.Helper()
	resp, err := e.sandbox.Mint(req)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return resp
}

// calls counts journaled requests to path.
func (e *env) calls(path string) int {
	n := 0
	for _, r := range e.sandbox.Kit().Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// wantErr checks code, reason and (optionally) the ErrorInfo partner_message.
func wantErr(t *testing.T, err error, code codes.Code, reason insurancev1.ErrorReason, partnerMessage string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v/%v, got success", code, reason)
	}
	st, ok := apierror.FromPartner(err) // the API edge's one translation
	if !ok {
		t.Fatalf("no partner error in %v", err)
	}
	if st.Code() != code {
		t.Fatalf("code = %v, want %v (err: %v)", st.Code(), code, err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			info = ei
		}
	}
	if info == nil || info.Reason != apierror.Reason(reason) || info.Domain != apierror.Domain || info.Metadata["partner"] != "etvas" {
		t.Fatalf("ErrorInfo = %v, want reason %v", info, reason)
	}
	if partnerMessage != "" && info.Metadata["partner_message"] != partnerMessage {
		t.Fatalf("partner_message = %q, want %q", info.Metadata["partner_message"], partnerMessage)
	}
}

func TestVerifyToken(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	minted := e.mint(t, etvassandbox.MintRequest{})

	v, err := e.client.VerifyToken(ctx, minted.Token)
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	if v.ContextID != minted.ContextID || len(v.Fields) == 0 {
		t.Fatalf("verification = %+v, want context %s", v, minted.ContextID)
	}
	// Second verification is served from the cache: no call.
	if _, err := e.client.VerifyToken(ctx, minted.Token); err != nil {
		t.Fatal(err)
	}
	if n := e.calls("/verify-token"); n != 1 {
		t.Fatalf("verify-token called %d times, want 1 (cache)", n)
	}
	// After the cache TTL the token is verified again.
	e.clock.Advance(etvas.DefaultVerifyCacheTTL + time.Second)
	if _, err := e.client.VerifyToken(ctx, minted.Token); err != nil {
		t.Fatal(err)
	}
	if n := e.calls("/verify-token"); n != 2 {
		t.Fatalf("verify-token called %d times after TTL, want 2", n)
	}

	rejected := []struct {
		name  string
		token func() string
		calls int // calls made to the partner
	}{
		{"garbage", func() string { return "not-a-token" }, 1},
		{"forged", func() string { return minted.Token[:len(minted.Token)-4] + "AAAA" }, 1},
		{"expired", func() string {
			tok := e.mint(t, etvassandbox.MintRequest{TTLSeconds: 60}).Token
			e.clock.Advance(2 * time.Minute)
			return tok
		}, 1},
		{"empty", func() string { return "" }, 0},
		{"control characters", func() string { return "abc\ndef" }, 0},
		{"huge", func() string { return strings.Repeat("a", 9000) }, 0},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token()
			e.sandbox.Kit().Reset()
			for range 2 { // failures are never cached: each try asks again
				_, err := e.client.VerifyToken(ctx, tok)
				wantErr(t, err, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, "token rejected")
				if partnerhttp.KindOf(err) != etvas.KindTokenRejected {
					t.Fatalf("kind %q", partnerhttp.KindOf(err))
				}
			}
			if n := e.calls("/verify-token"); n != 2*tt.calls {
				t.Fatalf("verify-token called %d times, want %d", n, 2*tt.calls)
			}
		})
	}
}

func TestVerifyCacheIsBounded(t *testing.T) {
	e := setup(t, nil, func(c *etvas.Config) { c.VerifyCacheSize = 2 })
	ctx := context.Background()
	var tokens []string
	for range 3 {
		tokens = append(tokens, e.mint(t, etvassandbox.MintRequest{}).Token)
	}
	for _, tok := range tokens {
		if _, err := e.client.VerifyToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// tokens[0] was evicted (least recently used); tokens[2] is still cached.
	for _, tok := range []string{tokens[2], tokens[0]} {
		if _, err := e.client.VerifyToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.calls("/verify-token"); n != 4 {
		t.Fatalf("verify-token called %d times, want 4", n)
	}
}

func TestWrongAPIKey(t *testing.T) {
	e := setup(t, nil, func(c *etvas.Config) { c.APIKey = "wrong-key" })
	ctx := context.Background()
	tok := e.mint(t, etvassandbox.MintRequest{})
	_, err := e.client.VerifyToken(ctx, tok.Token)
	// Our key is wrong: not the customer's fault, so not UNAUTHENTICATED.
	wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, "Unauthorized")
	_, err = e.client.UserProfile(ctx, tok.ContextID, false)
	wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, "Unauthorized")
}

func TestUserProfileAndPurchase(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	profile := etvassandbox.Profile{FirstName: "Jane", LastName: "Roe", Email: "jane@example.com", PhoneNumber: "+4512345678",
		Address: etvassandbox.Address{Address1: "Main St 1", City: "Aarhus", Country: "Denmark", PostalCode: "8000"}}
	minted := e.mint(t, etvassandbox.MintRequest{Profile: &profile, ProductID: "prod-1"})

	tests := []struct {
		name           string
		includeAddress bool
		want           etvas.Profile
	}{
		{"without address", false, etvas.Profile{FirstName: "Jane", LastName: "Roe", Email: "jane@example.com", PhoneNumber: "+4512345678"}},
		{"with address", true, etvas.Profile{FirstName: "Jane", LastName: "Roe", Email: "jane@example.com", PhoneNumber: "+4512345678",
			Address: etvas.Address{Address1: "Main St 1", City: "Aarhus", Country: "Denmark", PostalCode: "8000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.client.UserProfile(ctx, minted.ContextID, tt.includeAddress)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("profile = %+v, want %+v", got, tt.want)
			}
		})
	}
	entries := e.sandbox.Kit().Requests()
	last := entries[len(entries)-1]
	if last.Query != "include=address" || last.Header["X-Etvas-Context"] != minted.ContextID || last.Header["X-Api-Key"] != sandboxkit.Redacted {
		t.Fatalf("journal entry = %+v", last)
	}

	p, err := e.client.Purchase(ctx, minted.ContextID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ContextID != minted.ContextID || p.ProductID != "prod-1" || p.Status != "active" || p.Fields["purchasedAt"] == nil {
		t.Fatalf("purchase = %+v", p)
	}

	errCases := []struct {
		name      string
		contextID string
		code      codes.Code
		reason    insurancev1.ErrorReason
		calls     int
	}{
		{"unknown context", "00000000-0000-0000-0000-000000000000", codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, 1},
		{"empty context", "", codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 0},
		{"header injection", "abc\r\nx-api-key: x", codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 0},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			e.sandbox.Kit().Reset()
			_, err := e.client.UserProfile(ctx, tt.contextID, false)
			wantErr(t, err, tt.code, tt.reason, "")
			_, err = e.client.Purchase(ctx, tt.contextID)
			wantErr(t, err, tt.code, tt.reason, "")
			if n := len(e.sandbox.Kit().Requests()); n != 2*tt.calls {
				t.Fatalf("%d calls, want %d", n, 2*tt.calls)
			}
		})
	}
}

func TestNotify(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	minted := e.mint(t, etvassandbox.MintRequest{})
	n := etvas.Notification{Locale: "de", Subject: "Ihre Police", Message: "Ihre Police ist aktiv."}
	if err := e.client.Notify(ctx, minted.ContextID, n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := e.sandbox.Notifications()
	if len(got) != 1 || got[0].ContextID != minted.ContextID || got[0].Subject != n.Subject || got[0].Message != n.Message || got[0].Locale != "de" {
		t.Fatalf("notifications = %+v", got)
	}
	bad := []etvas.Notification{{Subject: "s", Message: "m"}, {Locale: "en", Message: "m"}, {Locale: "en", Subject: "s"}, {Locale: "en", Subject: " ", Message: "m"}}
	for _, b := range bad {
		wantErr(t, e.client.Notify(ctx, minted.ContextID, b), codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, "")
	}
	wantErr(t, e.client.Notify(ctx, "unknown-context", n), codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, "")
	if len(e.sandbox.Notifications()) != 1 {
		t.Fatal("invalid notifications reached the partner")
	}
}

// TestExternalData runs every way of writing (POST, PUT) and clearing ({"data": null},
// DELETE) against a sandbox that accepts that write method.
func TestExternalData(t *testing.T) {
	for _, mode := range []struct{ method, clear string }{
		{"", ""}, // the defaults: POST, null write
		{http.MethodPost, etvas.ExternalDataDeleteMethod},
		{http.MethodPut, etvas.ExternalDataDeleteNull},
		{http.MethodPut, etvas.ExternalDataDeleteMethod},
	} {
		method := mode.method
		if method == "" {
			method = http.MethodPost
		}
		t.Run(method+" "+mode.clear, func(t *testing.T) {
			e := setup(t, func(c *etvassandbox.Config) { c.Readings.ExternalDataWrite = method },
				func(c *etvas.Config) { c.ExternalDataWriteMethod, c.ExternalDataDelete = mode.method, mode.clear })
			ctx := context.Background()
			atLimit := strings.Repeat("x", etvas.MaxExternalDataValue-2) // + 2 quotes = exactly 100 KB encoded
			tests := []struct {
				name  string
				key   string
				value string
			}{
				{"simple", "ctx-1", `{"policy":"P-1","premium":"12.30"}`},
				{"unicode key needing escaping", "ключ 1?#%", "<b>&</b>"},
				{"64-char key", strings.Repeat("k", 64), "v"},
				{"empty value", "empty", ""},
				{"value at the limit", "big", atLimit},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, found, err := e.client.GetExternalData(ctx, tt.key); err != nil || found {
						t.Fatalf("before put: found=%v err=%v", found, err)
					}
					if err := e.client.PutExternalData(ctx, tt.key, tt.value); err != nil {
						t.Fatalf("put: %v", err)
					}
					got, found, err := e.client.GetExternalData(ctx, tt.key)
					if err != nil || !found || got != tt.value {
						t.Fatalf("get after put: found=%v err=%v equal=%v", found, err, got == tt.value)
					}
					if err := e.client.DeleteExternalData(ctx, tt.key); err != nil {
						t.Fatalf("delete: %v", err)
					}
					if _, found, err := e.client.GetExternalData(ctx, tt.key); err != nil || found {
						t.Fatalf("after delete: found=%v err=%v", found, err)
					}
				})
			}
			writes, nulls, deletes := 0, 0, 0
			for _, r := range e.sandbox.Kit().Requests() {
				switch {
				case !strings.HasPrefix(r.Path, "/external-data/"):
				case r.Method == method && r.Body == `{"data":null}`:
					nulls++
				case r.Method == method:
					writes++
				case r.Method == http.MethodDelete:
					deletes++
				}
			}
			wantNulls, wantDeletes := len(tests), 0
			if mode.clear == etvas.ExternalDataDeleteMethod {
				wantNulls, wantDeletes = 0, len(tests)
			}
			if writes != len(tests) || nulls != wantNulls || deletes != wantDeletes {
				t.Fatalf("journaled %d %s writes, %d null writes, %d DELETEs; want %d, %d, %d", writes, method, nulls, deletes, len(tests), wantNulls, wantDeletes)
			}
		})
	}
}

func TestExternalDataInputChecks(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		key    string
		value  string
		reason insurancev1.ErrorReason
		is     error
	}{
		{"value over 100 KB", "k", strings.Repeat("x", etvas.MaxExternalDataValue-1), insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE, etvas.ErrValueTooLarge},
		{"escapes count toward the limit", "k", strings.Repeat("\n", etvas.MaxExternalDataValue/2), insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE, etvas.ErrValueTooLarge},
		{"65-char key", strings.Repeat("k", 65), "v", insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, etvas.ErrInvalidKey},
		{"empty key", "", "v", insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, etvas.ErrInvalidKey},
		{"slash", "a/b", "v", insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, etvas.ErrInvalidKey},
		{"dot dot", "..", "v", insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, etvas.ErrInvalidKey},
		{"backslash", `a\b`, "v", insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, etvas.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.client.PutExternalData(ctx, tt.key, tt.value)
			wantErr(t, err, codes.InvalidArgument, tt.reason, "")
			if !errors.Is(err, tt.is) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
	if n := len(e.sandbox.Kit().Requests()); n != 0 {
		t.Fatalf("invalid input reached the partner: %d calls", n)
	}
}

// The sandbox enforces the same limits for callers that skip the adapter's checks.
func TestSandboxExternalDataLimits(t *testing.T) {
	e := setup(t, nil, nil)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
	}{
		{"too large", "POST", "/external-data/k", `{"data":"` + strings.Repeat("x", etvas.MaxExternalDataValue) + `"}`, 413},
		{"key too long", "POST", "/external-data/" + strings.Repeat("k", 65), `{"data":"v"}`, 400},
		{"encoded slash", "GET", "/external-data/a%2Fb", ``, 400},
		{"no data field", "POST", "/external-data/k", `{"value":"v"}`, 400},
		{"non-string data", "POST", "/external-data/k", `{"data":1}`, 400},
		{"store", "POST", "/external-data/k", `{"data":"v"}`, 200},
		{"null clears", "POST", "/external-data/k", `{"data":null}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("x-api-key", etvassandbox.DefaultAPIKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if _, found, err := e.client.GetExternalData(context.Background(), "k"); err != nil || found {
		t.Fatalf(`{"data":null} did not clear: found=%v err=%v`, found, err)
	}
}

func TestRequestSigning(t *testing.T) {
	const secret = "sandbox-signing-secret"
	tests := []struct {
		name          string
		sandboxSecret string
		clientSecret  string
		ok            bool
	}{
		{"signing off", "", "", true},
		{"signing on", secret, secret, true},
		{"client does not sign", secret, "", false},
		{"wrong secret", secret, "another-secret", false},
		{"signing client, lenient partner", "", secret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t,
				func(c *etvassandbox.Config) { c.SigningSecret = tt.sandboxSecret },
				func(c *etvas.Config) { c.SigningSecret = tt.clientSecret })
			ctx := context.Background()
			minted := e.mint(t, etvassandbox.MintRequest{})
			errs := map[string]error{}
			_, errs["verify"] = e.client.VerifyToken(ctx, minted.Token)
			_, errs["profile"] = e.client.UserProfile(ctx, minted.ContextID, true)
			_, errs["purchase"] = e.client.Purchase(ctx, minted.ContextID)
			errs["notify"] = e.client.Notify(ctx, minted.ContextID, etvas.Notification{Locale: "en", Subject: "s", Message: "m"})
			errs["put"] = e.client.PutExternalData(ctx, "k y", "v")
			_, _, errs["get"] = e.client.GetExternalData(ctx, "k y")
			errs["delete"] = e.client.DeleteExternalData(ctx, "k y")
			for op, err := range errs {
				if tt.ok {
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					continue
				}
				// A bad signature is our fault, for verify-token too: never the customer's.
				wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, "Invalid signature")
			}
			if tt.clientSecret != "" {
				for _, r := range e.sandbox.Kit().Requests() {
					if r.Header["X-Signature"] != sandboxkit.Redacted || r.Header["X-Timestamp"] == "" {
						t.Fatalf("journal entry %s lacks signature headers or leaks them: %v", r.Path, r.Header)
					}
				}
			}
		})
	}
}

func TestCanonicalRequest(t *testing.T) {
	tests := []struct {
		name string
		req  etvas.SignedRequest
		want string
	}{
		{
			name: "get with query and context",
			req:  etvas.SignedRequest{Method: "get", Path: "/user/profile", RawQuery: "include=address", ContentType: "application/json", APIKey: "k", ContextID: "c", Timestamp: 1700000000},
			want: "GET\n/user/profile\ninclude=address\ncontent-type:application/json\nx-api-key:k\nx-etvas-context:c\nx-timestamp:1700000000\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
		{
			name: "empty post body hashed as {}",
			req:  etvas.SignedRequest{Method: "POST", Path: "/purchase", APIKey: "k", Timestamp: 1},
			want: "POST\n/purchase\nx-api-key:k\nx-timestamp:1\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Canonical(); got != tt.want {
				t.Fatalf("canonical =\n%s\nwant\n%s", got, tt.want)
			}
			sig := etvas.RequestSignature([]byte("s"), tt.req)
			if !etvas.VerifyRequestSignature([]byte("s"), tt.req, sig) || etvas.VerifyRequestSignature([]byte("t"), tt.req, sig) {
				t.Fatal("signature does not verify with its own secret only")
			}
			tampered := tt.req
			tampered.Timestamp++
			if etvas.VerifyRequestSignature([]byte("s"), tampered, sig) {
				t.Fatal("signature verifies for another timestamp")
			}
		})
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("timeout", func(t *testing.T) {
		e := setup(t, nil, func(c *etvas.Config) { c.AttemptTimeout = 100 * time.Millisecond; c.MaxAttempts = 2 })
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{LatencyMS: 60_000})
		_, _, err := e.client.GetExternalData(ctx, "k")
		wantErr(t, err, codes.DeadlineExceeded, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, "")
		if n := e.calls("/external-data/k"); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})

	t.Run("5xx then success", func(t *testing.T) {
		e := setup(t, nil, nil)
		minted := e.mint(t, etvassandbox.MintRequest{})
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{FailNext: 2, Status: 503})
		if _, err := e.client.UserProfile(ctx, minted.ContextID, false); err != nil {
			t.Fatalf("UserProfile: %v", err)
		}
		var statuses []int
		for _, r := range e.sandbox.Kit().Requests() {
			statuses = append(statuses, r.Status)
		}
		if fmt.Sprint(statuses) != "[503 503 200]" {
			t.Fatalf("journal statuses %v", statuses)
		}
	})

	t.Run("5xx on a non-idempotent call is not retried", func(t *testing.T) {
		e := setup(t, nil, nil)
		minted := e.mint(t, etvassandbox.MintRequest{})
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 503})
		err := e.client.Notify(ctx, minted.ContextID, etvas.Notification{Locale: "en", Subject: "s", Message: "m"})
		wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, "")
		if n := e.calls("/user/notify"); n != 1 {
			t.Fatalf("notify sent %d times", n)
		}
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		e := setup(t, nil, nil)
		minted := e.mint(t, etvassandbox.MintRequest{})
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 1})
		begin := time.Now()
		if err := e.client.Notify(ctx, minted.ContextID, etvas.Notification{Locale: "en", Subject: "s", Message: "m"}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		// Backoff is 1-2ms here, so only Retry-After explains a wait of a second.
		if took := time.Since(begin); took < time.Second {
			t.Fatalf("retried after %s, before Retry-After", took)
		}
		entries := e.sandbox.Kit().Requests()
		if len(entries) != 2 || entries[0].Status != 429 || entries[1].Status != 204 {
			t.Fatalf("journal %+v", entries)
		}
		if len(e.sandbox.Notifications()) != 1 {
			t.Fatal("notification not delivered exactly once")
		}
	})

	t.Run("429 with Retry-After past the deadline", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{ErrorRate: 1, Status: 429, RetryAfterSec: 30})
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, _, err := e.client.GetExternalData(dctx, "k")
		wantErr(t, err, codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED, "")
		var perr *partnerhttp.Error
		if !errors.As(err, &perr) || perr.RetryAfter != 30*time.Second {
			t.Fatalf("RetryAfter not reported: %v", err)
		}
		if dctx.Err() != nil || e.calls("/external-data/k") != 1 {
			t.Fatal("waited for a Retry-After beyond the deadline")
		}
	})

	t.Run("outage opens the breaker, which recovers", func(t *testing.T) {
		e := setup(t, nil, func(c *etvas.Config) {
			c.MaxAttempts = 1
			c.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: 200 * time.Millisecond}
		})
		minted := e.mint(t, etvassandbox.MintRequest{})
		e.sandbox.Kit().SetFaults(sandboxkit.Faults{OutageSeconds: 60})
		for range 3 {
			_, err := e.client.Purchase(ctx, minted.ContextID)
			wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, "")
		}
		_, err := e.client.Purchase(ctx, minted.ContextID)
		wantErr(t, err, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN, "")
		if n := e.calls("/purchase"); n != 3 {
			t.Fatalf("open breaker let calls through: %d", n)
		}
		e.clock.Advance(61 * time.Second) // the outage ends
		deadline := time.Now().Add(10 * time.Second)
		for e.client.BreakerState() != "half-open" {
			if time.Now().After(deadline) {
				t.Fatalf("breaker stuck %s", e.client.BreakerState())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := e.client.Purchase(ctx, minted.ContextID); err != nil {
			t.Fatalf("probe after recovery: %v", err)
		}
		if e.client.BreakerState() != "closed" {
			t.Fatalf("breaker %s after a successful probe", e.client.BreakerState())
		}
	})
}

func TestWebhookSignature(t *testing.T) {
	secret := []byte(etvassandbox.DefaultEventSecret)
	body := []byte(`{"name":"product.purchased","payload":{"productId":"p","contextId":"c"},"timestamp":1700000000000}`)
	good := etvas.SignWebhook(secret, body)
	tests := []struct {
		name   string
		body   []byte
		header string
		want   error
	}{
		{"valid", body, good, nil},
		{"valid upper-case", body, strings.ToUpper(good), nil},
		{"valid with prefix", body, "sha256=" + good, nil},
		{"missing", body, "", etvas.ErrSignatureMissing},
		{"blank", body, "   ", etvas.ErrSignatureMissing},
		{"not hex", body, "zz" + good[2:], etvas.ErrSignatureInvalid},
		{"truncated", body, good[:32], etvas.ErrSignatureInvalid},
		{"tampered body", bytes.Replace(body, []byte(`"c"`), []byte(`"d"`), 1), good, etvas.ErrSignatureInvalid},
		{"other secret", body, etvas.SignWebhook([]byte("other"), body), etvas.ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := etvas.VerifyWebhookSignature(secret, tt.body, tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
	if got := etvas.SignWebhook([]byte("key"), []byte("The quick brown fox jumps over the lazy dog")); got != "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Fatalf("SignWebhook vector = %s", got)
	}
	for err, want := range map[error]codes.Code{etvas.ErrSignatureMissing: codes.InvalidArgument, etvas.ErrSignatureInvalid: codes.PermissionDenied, etvas.ErrTimestampStale: codes.InvalidArgument} {
		if st := apierror.Normalize(err); st.Code() != want {
			t.Fatalf("%v → %v, want %v", err, st.Code(), want)
		}
	}
	if etvas.ErrSignatureInvalid.HTTPStatus() != 403 || etvas.ErrSignatureMissing.HTTPStatus() != 400 {
		t.Fatal("HTTP statuses do not follow the SDK")
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ts   int64
		want error
	}{
		{"now", now.UnixMilli(), nil},
		{"59s old", now.Add(-59 * time.Second).UnixMilli(), nil},
		{"exactly at window", now.Add(-60 * time.Second).UnixMilli(), nil},
		{"61s old", now.Add(-61 * time.Second).UnixMilli(), etvas.ErrTimestampStale},
		{"61s in the future", now.Add(61 * time.Second).UnixMilli(), etvas.ErrTimestampStale},
		{"zero", 0, etvas.ErrTimestampStale},
		{"seconds instead of ms", now.Unix(), etvas.ErrTimestampStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := etvas.CheckTimestamp(tt.ts, now, etvas.DefaultWebhookWindow); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClassifyEvent(t *testing.T) {
	tests := map[string]etvas.EventKind{
		"product.purchased": etvas.EventPurchased, "purchase.succeeded": etvas.EventPurchased, "product.purchase": etvas.EventPurchased,
		"purchase.canceled": etvas.EventCanceled, "product.canceled": etvas.EventCanceled, "product.cancel": etvas.EventCanceled,
		"product.suspended": etvas.EventSuspended, "purchase.suspended": etvas.EventSuspended, "product.suspend": etvas.EventSuspended,
		"product.repurchased": etvas.EventResumed, "product.resumed": etvas.EventResumed, "purchase.resumed": etvas.EventResumed, "product.resume": etvas.EventResumed,
		"user.deleted": etvas.EventUserDeleted, "user.delete": etvas.EventUserDeleted, "user.create": etvas.EventUserCreated, "user.update": etvas.EventUserUpdated,
		" Product.Purchased ": etvas.EventPurchased, "something.new": etvas.EventUnknown, "": etvas.EventUnknown,
	}
	for name, want := range tests {
		if got := etvas.ClassifyEvent(name); got != want {
			t.Errorf("ClassifyEvent(%q) = %s, want %s", name, got, want)
		}
	}
	if !etvas.EventPurchased.IsFormal() || etvas.EventCanceled.IsFormal() {
		t.Fatal("only purchases are formal")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  etvas.Config
		ok   bool
	}{
		{"defaults", etvas.Config{APIKey: "k"}, true},
		{"post writes", etvas.Config{APIKey: "k", ExternalDataWriteMethod: "post"}, true},
		{"no key", etvas.Config{}, false},
		{"patch writes", etvas.Config{APIKey: "k", ExternalDataWriteMethod: "PATCH"}, false},
		{"DELETE clears", etvas.Config{APIKey: "k", ExternalDataDelete: "delete"}, true},
		{"null clears", etvas.Config{APIKey: "k", ExternalDataDelete: "null"}, true},
		{"unknown clear", etvas.Config{APIKey: "k", ExternalDataDelete: "PURGE"}, false},
		{"bad url", etvas.Config{APIKey: "k", BaseURL: "api.etvas.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := etvas.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}
