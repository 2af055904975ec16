package scalepoint_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	sandbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	srv *sandbox.Server
	url string
}

func start(t *testing.T, mutate func(*sandbox.Config)) env {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv := sandbox.New(cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close() // first: releases held long polls so the HTTP server can close
		hs.Close()
	})
	return env{srv: srv, url: hs.URL}
}

func newCert(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
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

func x5t(c *x509.Certificate) string {
	s := sha1.Sum(c.Raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func postForm(t *testing.T, target string, form url.Values, basic [2]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", b, err)
		}
	}
	return resp.StatusCode, out
}

func token(t *testing.T, e env, scopes string) string {
	t.Helper()
	status, body := postForm(t, e.url+"/connect/token",
		url.Values{"grant_type": {"client_credentials"}, "scope": {scopes}},
		[2]string{sandbox.DefaultClientID, sandbox.DefaultClientSecret})
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

type assertionOpts struct {
	iss, sub, aud, jti string
	exp                time.Duration
	x5t                string
	key                *rsa.PrivateKey
	method             jwt.SigningMethod
}

func assertion(t *testing.T, o assertionOpts) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": o.iss, "sub": o.sub, "aud": o.aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(o.exp).Unix()}
	if o.jti != "" {
		claims["jti"] = o.jti
	}
	m := o.method
	if m == nil {
		m = jwt.SigningMethodRS256
	}
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["x5t"] = o.x5t
	var key any = o.key
	if m == jwt.SigningMethodHS256 {
		key = []byte("not-a-key-at-all-but-long-enough")
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenEndpoint_ClientSecret(t *testing.T) {
	e := start(t, nil)
	tests := []struct {
		name       string
		form       url.Values
		basic      [2]string
		wantStatus int
		wantError  string
	}{
		{"basic auth", url.Values{"grant_type": {"client_credentials"}, "scope": {"events"}}, [2]string{sandbox.DefaultClientID, sandbox.DefaultClientSecret}, 200, ""},
		{"form secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}}, [2]string{}, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, [2]string{sandbox.DefaultClientID, "nope"}, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, [2]string{"someone", sandbox.DefaultClientSecret}, 401, "invalid_client"},
		{"no authentication", url.Values{"grant_type": {"client_credentials"}, "client_id": {sandbox.DefaultClientID}}, [2]string{}, 401, "invalid_client"},
		{"two methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {sandbox.DefaultClientSecret}}, [2]string{sandbox.DefaultClientID, sandbox.DefaultClientSecret}, 400, "invalid_request"},
		{"wrong grant", url.Values{"grant_type": {"password"}}, [2]string{sandbox.DefaultClientID, sandbox.DefaultClientSecret}, 400, "unsupported_grant_type"},
		{"scope not allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"events admin"}}, [2]string{sandbox.DefaultClientID, sandbox.DefaultClientSecret}, 400, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postForm(t, e.url+"/connect/token", tc.form, tc.basic)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%v)", status, tc.wantStatus, body)
			}
			if tc.wantError != "" {
				if body["error"] != tc.wantError {
					t.Fatalf("error %v, want %s", body["error"], tc.wantError)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"].(float64) != 3600 {
				t.Fatalf("bad token response %v", body)
			}
		})
	}
	if got := e.srv.Stats(); got.TokenRequests != len(tests) || got.TokensIssued != 2 {
		t.Fatalf("stats %+v", got)
	}
	// The journal never shows the secret.
	for _, entry := range e.srv.Kit().Requests() {
		if strings.Contains(entry.Body, sandbox.DefaultClientSecret) || strings.Contains(entry.Header["Authorization"], "Basic") {
			t.Fatalf("secret in journal: %+v", entry)
		}
	}
}

func TestTokenEndpoint_PrivateKeyJWT(t *testing.T) {
	e := start(t, nil)
	cert, key := newCert(t, "client-a")
	other, otherKey := newCert(t, "other")
	if err := e.srv.RegisterClient(sandbox.Client{ID: "client-a", Certificate: cert, Scopes: []string{"events"}}); err != nil {
		t.Fatal(err)
	}
	aud := e.url + "/connect/token"
	good := func() assertionOpts {
		return assertionOpts{iss: "client-a", sub: "client-a", aud: aud, jti: uuid.NewString(), exp: 30 * time.Second, x5t: x5t(cert), key: key}
	}
	tests := []struct {
		name   string
		change func(*assertionOpts)
		ok     bool
	}{
		{"valid", func(*assertionOpts) {}, true},
		{"other key, own x5t", func(o *assertionOpts) { o.key = otherKey }, false},
		{"other certificate", func(o *assertionOpts) { o.key, o.x5t = otherKey, x5t(other) }, false},
		{"wrong audience", func(o *assertionOpts) { o.aud = "https://accounts.scalepoint.com/connect/token" }, false},
		{"sub differs", func(o *assertionOpts) { o.sub = "client-b" }, false},
		{"no jti", func(o *assertionOpts) { o.jti = "" }, false},
		{"expired", func(o *assertionOpts) { o.exp = -time.Minute }, false},
		{"exp too far", func(o *assertionOpts) { o.exp = time.Hour }, false},
		{"HS256", func(o *assertionOpts) { o.method = jwt.SigningMethodHS256 }, false},
		{"unknown client", func(o *assertionOpts) { o.iss, o.sub = "ghost", "ghost" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.change(&o)
			form := url.Values{
				"grant_type":            {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {assertion(t, o)},
				"scope":                 {"events"},
			}
			status, body := postForm(t, e.url+"/connect/token", form, [2]string{})
			if tc.ok != (status == http.StatusOK) {
				t.Fatalf("status %d body %v", status, body)
			}
			if !tc.ok && (status != http.StatusUnauthorized || body["error"] != "invalid_client") {
				t.Fatalf("want 401 invalid_client, got %d %v", status, body)
			}
		})
	}

	t.Run("replayed assertion", func(t *testing.T) {
		a := assertion(t, good())
		form := url.Values{
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}
		if status, body := postForm(t, e.url+"/connect/token", form, [2]string{}); status != 200 {
			t.Fatalf("first use: %d %v", status, body)
		}
		status, body := postForm(t, e.url+"/connect/token", form, [2]string{})
		if status != 401 || !strings.Contains(body["error_description"].(string), "already used") {
			t.Fatalf("replay: %d %v", status, body)
		}
	})
}

func apiRequest(t *testing.T, method, target, bearer string, header map[string]string, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

const sendPath = "/api/events/v1/dk/external/covergate/send"

func TestSend_DocumentedResponses(t *testing.T) {
	e := start(t, nil)
	full := token(t, e, "events")
	caseOnly := token(t, e, "case_integration")
	good := `{"eventType":"payment_status_updated","payloadVersion":"1.0.0","correlationId":"70c6d351-016f-4c9e-b1a9-d581fc3a596b","timestamp":"2017-07-25T10:31:28.2519514Z","payment":{"uuid":"967ce1a4-a55a-4765-bd5b-bafcb4178fd3","status":"canceled"}}`
	jsonCT := map[string]string{"Content-Type": "application/json;charset=utf-8", "Event-Type": "payment_status_updated"}
	tests := []struct {
		name     string
		path     string
		bearer   string
		header   map[string]string
		body     string
		status   int
		wantBody map[string]any
	}{
		{"created", sendPath, full, jsonCT, good, 201, map[string]any{"_id": 1.0}},
		{"created again", sendPath, full, jsonCT, good, 201, map[string]any{"_id": 2.0}},
		{"no token", sendPath, "", jsonCT, good, 401, map[string]any{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}},
		{"unknown token", sendPath, "forged", jsonCT, good, 401, map[string]any{"error": "unauthorized"}},
		{"insufficient scope", sendPath, caseOnly, jsonCT, good, 403, map[string]any{"error": "insufficient_scope", "error_description": "Insufficient scope for this resource", "scope": "events"}},
		{"missing Event-Type", sendPath, full, map[string]string{"Content-Type": "application/json;charset=utf-8"}, good, 400,
			map[string]any{"status": 400.0, "error": "Bad Request", "exception": "org.springframework.web.bind.ServletRequestBindingException", "message": "Missing request header 'Event-Type' for method parameter of type String", "path": sendPath}},
		{"wrong content type", sendPath, full, map[string]string{"Content-Type": "text/plain", "Event-Type": "x"}, good, 415, map[string]any{"status": 415.0}},
		{"not JSON", sendPath, full, jsonCT, `{"eventType":`, 400, map[string]any{"exception": "org.springframework.http.converter.HttpMessageNotReadableException"}},
		{"missing fields", sendPath, full, jsonCT, `{"eventType":"payment_status_updated","timestamp":"2017-07-25T10:31:28Z"}`, 400,
			map[string]any{"message": "Incorrect payload, missing [payloadVersion, correlationId]", "valid": false}},
		{"bad timestamp", sendPath, full, jsonCT, strings.Replace(good, "2017-07-25T10:31:28.2519514Z", "yesterday", 1), 400,
			map[string]any{"message": "Incorrect payload, invalid [timestamp]", "valid": false}},
		{"type mismatch", sendPath, full, map[string]string{"Content-Type": "application/json;charset=utf-8", "Event-Type": "case_created"}, good, 400, map[string]any{"valid": false}},
		{"other tenant", "/api/events/v1/dk/external/abcinsurance/send", full, jsonCT, good, 404, map[string]any{"status": 404.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, apiRequest(t, http.MethodPost, e.url+tc.path, tc.bearer, tc.header, tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			for k, v := range tc.wantBody {
				if body[k] != v {
					t.Fatalf("%s = %v, want %v (body %v)", k, body[k], v, body)
				}
			}
		})
	}
	pubs := e.srv.Published()
	if len(pubs) != 2 || pubs[0].ID != 1 || pubs[1].ID != 2 || pubs[0].CorrelationID != "70c6d351-016f-4c9e-b1a9-d581fc3a596b" {
		t.Fatalf("published %+v", pubs)
	}
	// The control endpoint lists them too.
	status, body := do(t, apiRequest(t, http.MethodGet, e.url+"/_sandbox/published", "", nil, ""))
	if status != 200 || len(body["published"].([]any)) != 2 {
		t.Fatalf("GET /_sandbox/published: %d %v", status, body)
	}
	// The journal recorded the API calls with the bearer token redacted.
	var sends int
	for _, entry := range e.srv.Kit().Requests() {
		if entry.Path == sendPath {
			sends++
			if a := entry.Header["Authorization"]; a != "" && a != "[redacted]" {
				t.Fatalf("token in journal: %q", a)
			}
		}
	}
	if sends != len(tests)-1 {
		t.Fatalf("journal has %d sends, want %d", sends, len(tests)-1)
	}
}

func TestTokenExpiry(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := start(t, func(c *sandbox.Config) { c.Clock = clock; c.TokenTTL = time.Minute })
	tok := token(t, e, "events")
	req := func() int {
		status, _ := do(t, apiRequest(t, http.MethodGet, e.url+"/api/events/v1/dk/external/covergate/receive?lastEventId=_1", tok, nil, ""))
		return status
	}
	if _, err := e.srv.Enqueue(sandbox.EnqueueRequest{Type: "case_created"}); err != nil {
		t.Fatal(err)
	}
	if s := req(); s != 200 {
		t.Fatalf("fresh token: %d", s)
	}
	offset.Store(int64(time.Minute))
	if s := req(); s != 401 {
		t.Fatalf("expired token: %d", s)
	}
}

func TestReceive_LongPollAndResume(t *testing.T) {
	e := start(t, func(c *sandbox.Config) { c.HoldTimeout = time.Hour; c.PageSize = 2 })
	tok := token(t, e, "events")
	recv := func(last string) (int, map[string]any) {
		return do(t, apiRequest(t, http.MethodGet, e.url+"/api/events/v1/dk/external/covergate/receive?lastEventId="+url.QueryEscape(last), tok, nil, ""))
	}

	// A held poll returns when the event arrives (the hold is an hour: nothing else ends it).
	type result struct {
		status int
		body   map[string]any
	}
	done := make(chan result, 1)
	go func() {
		r := result{}
		defer func() { done <- r }() // also when recv fails the test (Goexit)
		r.status, r.body = recv("")
	}()
	waitForRequests(t, e, "/receive", 1)
	ev, err := e.srv.Enqueue(sandbox.EnqueueRequest{Type: "claim_updated", Attributes: json.RawMessage(`{"change":"CaseClosed"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	data := r.body["data"].([]any)
	if r.status != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != ev.ID || ev.ID != "_122047" {
		t.Fatalf("poll result %d %v (event %+v)", r.status, r.body, ev)
	}
	attrs := data[0].(map[string]any)["attributes"].(map[string]any)
	if attrs["eventType"] != "claim_updated" || attrs["change"] != "CaseClosed" || attrs["payloadVersion"] != "1.0.0" || attrs["correlationId"] == "" {
		t.Fatalf("attributes %v", attrs)
	}

	for range 3 {
		if _, err := e.srv.Enqueue(sandbox.EnqueueRequest{Type: "case_created"}); err != nil {
			t.Fatal(err)
		}
	}
	// Resume after the first: a page of 2, then the last one.
	_, b := recv("_122047")
	if ids := idsOf(b); ids != "_122048,_122049" || !strings.HasSuffix(b["links"].(map[string]any)["next"].(string), "lastEventId=_122049") {
		t.Fatalf("page 1 %v", b)
	}
	_, b = recv("_122049")
	if ids := idsOf(b); ids != "_122050" {
		t.Fatalf("page 2 %v", b)
	}
	if s, b := recv("abc"); s != 400 || b["exception"] == nil {
		t.Fatalf("bad lastEventId: %d %v", s, b)
	}
}

func TestReceive_EmptyAfterHold(t *testing.T) {
	e := start(t, func(c *sandbox.Config) { c.HoldTimeout = 50 * time.Millisecond })
	tok := token(t, e, "events")
	status, b := do(t, apiRequest(t, http.MethodGet, e.url+"/api/events/v1/dk/external/covergate/receive?lastEventId=_5", tok, nil, ""))
	if status != 200 || len(b["data"].([]any)) != 0 {
		t.Fatalf("%d %v", status, b)
	}
}

func TestClose_EndsHeldPolls(t *testing.T) {
	cfg := sandbox.DefaultConfig()
	cfg.HoldTimeout = time.Hour
	srv := sandbox.New(cfg)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	e := env{srv: srv, url: hs.URL}
	tok := token(t, e, "events")
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/api/events/v1/dk/external/covergate/receive", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitForRequests(t, e, "/receive", 1)
	srv.Close()
	if s := <-done; s != http.StatusServiceUnavailable {
		t.Fatalf("status %d", s)
	}
}

func TestPush_DeliversToGateway(t *testing.T) {
	var calls atomic.Int32
	gotAuth := make(chan string, 4)
	gotBody := make(chan []byte, 4)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/webhooks/scalepoint" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		gotAuth <- r.Header.Get("Authorization")
		gotBody <- b
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // first delivery fails: retried
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer gw.Close()
	e := start(t, func(c *sandbox.Config) { c.GatewayURL = gw.URL })

	status, body := do(t, apiRequest(t, http.MethodPost, e.url+"/_sandbox/events", "", map[string]string{"Content-Type": "application/json"},
		`{"type":"case_settled","attributes":{"caseId":"C-1"},"push":true}`))
	if status != 201 || body["id"] != "_122047" {
		t.Fatalf("enqueue: %d %v", status, body)
	}
	for range 2 {
		if a := <-gotAuth; a != "Bearer "+sandbox.DefaultWebhookToken {
			t.Fatalf("auth %q", a)
		}
		var ev map[string]any
		if err := json.Unmarshal(<-gotBody, &ev); err != nil || ev["id"] != "_122047" || ev["attributes"].(map[string]any)["caseId"] != "C-1" {
			t.Fatalf("pushed body %v (%v)", ev, err)
		}
	}
	// The gateway saw both attempts; the outcome is recorded once the second answer is read.
	deadline := time.After(10 * time.Second)
	for len(e.srv.Deliveries()) == 0 {
		select {
		case <-deadline:
			t.Fatal("delivery never finished")
		case <-time.After(5 * time.Millisecond):
		}
	}
	e.srv.Close() // waits for push goroutines (none left)
	d := e.srv.Deliveries()
	if len(d) != 1 || !d[0].OK || d[0].Attempts != 2 || d[0].Status != 204 {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestEnqueue_BadInput(t *testing.T) {
	e := start(t, nil)
	for _, body := range []string{`{}`, `{"attributes":[1]}`, `{"type":"a","attributes":{"eventType":"b"}}`, `{"type":"a","bogus":1}`, `not json`} {
		status, b := do(t, apiRequest(t, http.MethodPost, e.url+"/_sandbox/events", "", nil, body))
		if status != 400 || b["error"] == "" {
			t.Fatalf("%s: %d %v", body, status, b)
		}
	}
	if e.srv.Stats().Events != 0 {
		t.Fatal("bad input enqueued an event")
	}
}

func TestWebhookRequest(t *testing.T) {
	ev, err := sandbox.NewEvent("_1", "case_created", json.RawMessage(`{"caseId":"C-9"}`), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	req, err := sandbox.WebhookRequest("http://127.0.0.1:8080/", "tok", ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(req.Body)
	var got struct {
		ID         string            `json:"id"`
		Type       string            `json:"type"`
		Timestamp  string            `json:"timestamp"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	a := got.Attributes
	if req.Method != http.MethodPost || req.URL.String() != "http://127.0.0.1:8080/webhooks/scalepoint" ||
		req.Header.Get("Authorization") != "Bearer tok" || req.Header.Get("Content-Type") != "application/json" ||
		got.ID != "_1" || got.Type != "case_created" || got.Timestamp != "2026-01-01T00:00:00Z" ||
		a["eventType"] != "case_created" || a["payloadVersion"] != "1.0.0" || a["correlationId"] == "" ||
		a["timestamp"] != "2026-01-01T00:00:00Z" || a["caseId"] != "C-9" {
		t.Fatalf("%s %s %v %s", req.Method, req.URL, req.Header, b)
	}
	if _, err := sandbox.NewEvent("_2", "", nil, time.Now()); err == nil {
		t.Fatal("event without a type accepted")
	}
}

func idsOf(b map[string]any) string {
	var ids []string
	for _, d := range b["data"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return strings.Join(ids, ",")
}

// waitForRequests blocks until the journal holds n requests whose path ends with suffix.
// The journal records a request before the handler runs, so a held poll is visible.
func waitForRequests(t *testing.T, e env, suffix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		count := 0
		for _, r := range e.srv.Kit().Requests() {
			if strings.HasSuffix(r.Path, suffix) {
				count++
			}
		}
		if count >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("journal never showed %d requests to %s", n, suffix)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
