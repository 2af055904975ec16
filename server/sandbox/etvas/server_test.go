package etvas_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// index is testdata/documented/index.json.
type index struct {
	Documents map[string]struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"documents"`
	Examples []struct {
		File     *string `json:"file"`
		Document string  `json:"document"`
		Section  string  `json:"section"`
		Kind     string  `json:"kind"`
		Method   string  `json:"method"`
		Path     string  `json:"path"`
		Status   int     `json:"status"`
		Event    string  `json:"event"`
	} `json:"examples"`
}

func readIndex(t *testing.T) index {
	t.Helper()
	var idx index
	if err := json.Unmarshal(fixture(t, "index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "documented", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	if g, w := decodeJSON(t, got), decodeJSON(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

// TestFixtureIndex: every documented example file is named in the index with its document
// and section, and every file the index names exists and is JSON.
func TestFixtureIndex(t *testing.T) {
	idx := readIndex(t)
	for _, doc := range []string{"developer-portal", "app"} {
		if d := idx.Documents[doc]; d.Title == "" || !strings.HasPrefix(d.URL, "https://www.etvas.com/") {
			t.Fatalf("document %s = %+v", doc, d)
		}
	}
	named := map[string]bool{}
	for _, ex := range idx.Examples {
		if _, ok := idx.Documents[ex.Document]; !ok || ex.Section == "" || ex.Method == "" || ex.Path == "" {
			t.Fatalf("incomplete index entry %+v", ex)
		}
		switch ex.Kind {
		case "request", "response", "event", "event-answer":
		default:
			t.Fatalf("kind %q", ex.Kind)
		}
		if ex.File == nil {
			continue
		}
		if named[*ex.File] {
			t.Fatalf("%s named twice", *ex.File)
		}
		named[*ex.File] = true
		decodeJSON(t, fixture(t, *ex.File))
	}
	var files []string
	err := filepath.WalkDir(filepath.Join("testdata", "documented"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "index.json" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("testdata", "documented"), path)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) != len(named) {
		t.Fatalf("%d files, %d named in the index", len(files), len(named))
	}
	for _, f := range files {
		if !named[f] {
			t.Fatalf("%s is not in the index", f)
		}
	}
	// Both documents: 12 portal bodies (6 events and their answers), 15 App bodies.
	if len(files) != 24 {
		t.Fatalf("%d documented bodies, want 24", len(files))
	}
}

type sandbox struct {
	sb  *etvas.Server
	srv *httptest.Server
}

func start(t *testing.T, cfg etvas.Config) sandbox {
	t.Helper()
	sb := etvas.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return sandbox{sb: sb, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s sandbox) do(t *testing.T, method, path string, header map[string]string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

var apiKey = map[string]string{"x-api-key": etvas.DefaultAPIKey, "Content-Type": "application/json", "Accept": "application/json"}

func withContext(ctx string) map[string]string {
	h := map[string]string{"x-etvas-context": ctx}
	for k, v := range apiKey {
		h[k] = v
	}
	return h
}

// TestAnswersAreTheDocumentedExamples drives the sandbox with the documented requests (and
// the documented state behind them) and compares every answer with the documented one.
func TestAnswersAreTheDocumentedExamples(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	const ctx = "context-is-uuid-36-chars-long-string"
	minted, err := s.sb.Mint(etvas.MintRequest{ContextID: ctx, Profile: &etvas.Profile{
		FirstName: "The customer's first name", LastName: "The customer's last name", Email: "customer@etvas.com", PhoneNumber: "+1234345456",
	}})
	if err != nil {
		t.Fatal(err)
	}

	// verify-token: the documented request with a real token in place of the placeholder.
	req := bytes.Replace(fixture(t, "app/verify-token.request.json"), []byte("received-token-here"), []byte(minted.Token), 1)
	a := s.do(t, "POST", "/verify-token", apiKey, req)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("verify-token: %d %s", a.status, a.body)
	}
	sameJSON(t, a.body, fixture(t, "app/verify-token.response.json"))

	a = s.do(t, "GET", "/user/profile", withContext(ctx), nil)
	if a.status != 200 {
		t.Fatalf("profile: %d %s", a.status, a.body)
	}
	sameJSON(t, a.body, fixture(t, "app/user-profile.response.json"))

	// External data, in the document's order: write, read, clear both ways.
	const key = "/external-data/key-index"
	a = s.do(t, "GET", key, apiKey, nil)
	sameJSON(t, a.body, []byte(`{"data":null}`)) // "will not be failing if no data is stored"
	write := fixture(t, "app/external-data-write.request.json")
	if a = s.do(t, "POST", key, apiKey, write); a.status != 200 || len(a.body) != 0 {
		t.Fatalf("write: %d %q", a.status, a.body)
	}
	if v, ok := s.sb.ExternalData("key-index"); !ok || v != "a string you want to store, it can easily be a JSON encoded object" {
		t.Fatalf("stored %q %v", v, ok)
	}
	s.do(t, "POST", key, apiKey, []byte(`{"data":"your-previously-stored-data"}`))
	a = s.do(t, "GET", key, apiKey, nil)
	if a.status != 200 {
		t.Fatalf("read: %d", a.status)
	}
	sameJSON(t, a.body, fixture(t, "app/external-data-read.response.json"))
	if a = s.do(t, "POST", key, apiKey, fixture(t, "app/external-data-clear.request.json")); a.status != 200 || len(a.body) != 0 {
		t.Fatalf("clear with null: %d %q", a.status, a.body)
	}
	if _, ok := s.sb.ExternalData("key-index"); ok {
		t.Fatal(`{"data": null} did not clear`)
	}
	s.do(t, "POST", key, apiKey, write)
	if a = s.do(t, "DELETE", key, map[string]string{"x-api-key": etvas.DefaultAPIKey}, nil); a.status != 200 || len(a.body) != 0 {
		t.Fatalf("delete: %d %q", a.status, a.body)
	}
	if _, ok := s.sb.ExternalData("key-index"); ok {
		t.Fatal("DELETE did not clear")
	}
}

func TestProfileWithAddressAndPurchase(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	p := etvas.Profile{FirstName: "Jane", LastName: "Roe", Email: "jane@example.com", PhoneNumber: "+4512345678",
		Address: etvas.Address{Address1: "Main St 1", City: "Aarhus", Country: "Denmark", PostalCode: "8000"}}
	m, err := s.sb.Mint(etvas.MintRequest{ContextID: "ctx-a", ProductID: "prod-a", Profile: &p})
	if err != nil {
		t.Fatal(err)
	}
	a := s.do(t, "GET", "/user/profile?include=address", withContext(m.ContextID), nil)
	sameJSON(t, a.body, []byte(`{"firstName":"Jane","lastName":"Roe","email":"jane@example.com","phoneNumber":"+4512345678",
		"address1":"Main St 1","address2":"","city":"Aarhus","region/state":"","country":"Denmark","postalCode":"8000"}`))
	a = s.do(t, "GET", "/purchase", withContext(m.ContextID), nil)
	var got map[string]any
	if err := json.Unmarshal(a.body, &got); err != nil || got["contextId"] != "ctx-a" || got["productId"] != "prod-a" || got["status"] != "active" || got["purchasedAt"] == nil {
		t.Fatalf("purchase: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"no context", "/user/profile", apiKey, 400},
		{"unknown context", "/user/profile", withContext("nope"), 404},
		{"purchase unknown context", "/purchase", withContext("nope"), 404},
	} {
		if a := s.do(t, "GET", tc.path, tc.header, nil); a.status != tc.want || !bytes.Contains(a.body, []byte(`"message"`)) {
			t.Errorf("%s: %d %s", tc.name, a.status, a.body)
		}
	}
}

func TestNotify(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	m, _ := s.sb.Mint(etvas.MintRequest{})
	if a := s.do(t, "POST", "/user/notify", withContext(m.ContextID), []byte(`{"locale":"de","subject":"S","message":"M"}`)); a.status != 204 {
		t.Fatalf("notify: %d %s", a.status, a.body)
	}
	for _, body := range []string{`{"locale":"de","subject":"S"}`, `{"locale":"","subject":"S","message":"M"}`, `{"locale":"de","subject":"S","message":"M","x":1}`, `nope`} {
		if a := s.do(t, "POST", "/user/notify", withContext(m.ContextID), []byte(body)); a.status != 400 {
			t.Errorf("%s: %d", body, a.status)
		}
	}
	if n := s.sb.Notifications(); len(n) != 1 || n[0].ContextID != m.ContextID || n[0].Locale != "de" {
		t.Fatalf("notifications %+v", n)
	}
	var listed []etvas.Notification
	if err := json.Unmarshal(s.do(t, "GET", etvas.NotificationsPath, nil, nil).body, &listed); err != nil || len(listed) != 1 {
		t.Fatalf("listed %+v %v", listed, err)
	}
}

// TestExternalDataReadings: the write method the sandbox accepts follows the readings, set
// in the Config or at run time; the other method is 405; DELETE and null writes always clear.
func TestExternalDataReadings(t *testing.T) {
	tests := []struct {
		reading  string
		postOK   bool
		putOK    bool
		runtime  bool
		allowHdr string
	}{
		{etvas.WriteMethodPOST, true, false, false, "GET, POST, DELETE"},
		{etvas.WriteMethodPUT, false, true, false, "GET, PUT, DELETE"},
		{etvas.WriteMethodAny, true, true, false, ""},
		{etvas.WriteMethodPUT, false, true, true, "GET, PUT, DELETE"},
		{etvas.WriteMethodAny, true, true, true, ""},
	}
	for _, tt := range tests {
		name := tt.reading
		if tt.runtime {
			name += " at run time"
		}
		t.Run(name, func(t *testing.T) {
			cfg := etvas.DefaultConfig()
			if !tt.runtime {
				cfg.Readings.ExternalDataWrite = tt.reading
			}
			s := start(t, cfg)
			if tt.runtime {
				a := s.do(t, "POST", etvas.ReadingsPath, nil, []byte(`{"externalDataWrite":"`+tt.reading+`"}`))
				if a.status != 200 || s.sb.Readings().ExternalDataWrite != tt.reading {
					t.Fatalf("set reading: %d %s", a.status, a.body)
				}
			}
			for method, ok := range map[string]bool{"POST": tt.postOK, "PUT": tt.putOK} {
				a := s.do(t, method, "/external-data/k-"+method, apiKey, []byte(`{"data":"v"}`))
				_, stored := s.sb.ExternalData("k-" + method)
				if ok != (a.status == 200) || ok != stored {
					t.Fatalf("%s: %d %s (stored %v)", method, a.status, a.body, stored)
				}
				if !ok && (a.status != 405 || a.header.Get("Allow") != tt.allowHdr) {
					t.Fatalf("%s refused with %d, Allow %q", method, a.status, a.header.Get("Allow"))
				}
			}
		})
	}
}

func TestExternalDataLimits(t *testing.T) {
	s := start(t, etvas.Config{Readings: etvas.Readings{ExternalDataWrite: etvas.WriteMethodAny}})
	atLimit := `{"data":"` + strings.Repeat("x", etvas.MaxExternalDataValue-2) + `"}`
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"value at the limit", "POST", "/external-data/big", atLimit, 200},
		{"value over the limit", "PUT", "/external-data/k", `{"data":"` + strings.Repeat("x", etvas.MaxExternalDataValue-1) + `"}`, 413},
		{"escapes count", "PUT", "/external-data/k", `{"data":"` + strings.Repeat(`\n`, etvas.MaxExternalDataValue/2) + `"}`, 413},
		{"64-character key", "PUT", "/external-data/" + strings.Repeat("k", 64), `{"data":"v"}`, 200},
		{"65-character key", "PUT", "/external-data/" + strings.Repeat("k", 65), `{"data":"v"}`, 400},
		{"64 characters, more bytes", "PUT", "/external-data/" + strings.Repeat("%C3%A9", 64), `{"data":"v"}`, 200},
		{"encoded slash", "GET", "/external-data/a%2Fb", ``, 400},
		{"control character", "GET", "/external-data/a%0Ab", ``, 400},
		{"no data field", "POST", "/external-data/k", `{"value":"v"}`, 400},
		{"non-string data", "POST", "/external-data/k", `{"data":1}`, 400},
		{"not JSON", "POST", "/external-data/k", `data`, 400},
		{"PATCH", "PATCH", "/external-data/k", `{"data":"v"}`, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := s.do(t, tt.method, tt.path, apiKey, []byte(tt.body)); a.status != tt.want {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tt.want)
			}
		})
	}
	if v, ok := s.sb.ExternalData("big"); !ok || len(v) != etvas.MaxExternalDataValue-2 {
		t.Fatal("value at the limit not stored whole")
	}
}

func TestReadingsEndpoint(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	var got etvas.Readings
	if err := json.Unmarshal(s.do(t, "GET", etvas.ReadingsPath, nil, nil).body, &got); err != nil || got != etvas.DefaultReadings() {
		t.Fatalf("default readings %+v %v", got, err)
	}
	a := s.do(t, "POST", etvas.ReadingsPath, nil, []byte(`{"timestamps":"seconds","appContextField":"purchaseid"}`))
	want := etvas.DefaultReadings()
	want.Timestamps, want.AppContextField = etvas.TimestampsSeconds, etvas.ContextFieldPurchaseID
	if err := json.Unmarshal(a.body, &got); err != nil || a.status != 200 || got != want || s.sb.Readings() != want {
		t.Fatalf("after POST: %d %+v", a.status, got)
	}
	for _, bad := range []string{`{"timestamps":"minutes"}`, `{"portalApiKey":"maybe"}`, `{"other":"x"}`, `[`} {
		if a := s.do(t, "POST", etvas.ReadingsPath, nil, []byte(bad)); a.status != 400 || !bytes.Contains(a.body, []byte(`"message"`)) {
			t.Errorf("%s: %d %s", bad, a.status, a.body)
		}
	}
	if s.sb.Readings() != want {
		t.Fatal("a refused change changed the readings")
	}
	if a := s.do(t, "DELETE", etvas.ReadingsPath, nil, nil); a.status != 200 || s.sb.Readings() != etvas.DefaultReadings() {
		t.Fatalf("DELETE: %d %+v", a.status, s.sb.Readings())
	}
	if a := s.do(t, "PUT", etvas.ReadingsPath, nil, nil); a.status != 405 {
		t.Fatalf("PUT: %d", a.status)
	}
	// Every variant is valid and differs from the default in exactly one question (but the first).
	variants := etvas.ReadingVariants()
	if len(variants) != 1+2+2+1+1+1 || variants[0] != etvas.DefaultReadings() {
		t.Fatalf("variants %v", variants)
	}
	seen := map[etvas.Readings]bool{}
	for _, v := range variants {
		if n, err := v.Normalize(); err != nil || n != v || seen[v] {
			t.Fatalf("variant %v: %v", v, err)
		}
		seen[v] = true
	}
}

func TestNewPanicsOnInvalidReadings(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	etvas.New(etvas.Config{Readings: etvas.Readings{Timestamps: "fortnights"}})
}

func TestMintVerifyAndAuth(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	a := s.do(t, "POST", etvas.TokensPath, nil, []byte(`{"contextId":"ctx-9","profile":{"firstName":"A","lastName":"B","email":"a@b.example","phoneNumber":"+1"}}`))
	if a.status != http.StatusCreated {
		t.Fatalf("mint: %d %s", a.status, a.body)
	}
	var minted etvas.MintResponse
	if err := json.Unmarshal(a.body, &minted); err != nil || minted.Token == "" || minted.ContextID != "ctx-9" || time.Until(minted.ExpiresAt) < 50*time.Minute {
		t.Fatalf("minted %+v (%v)", minted, err)
	}
	tests := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		want   int
		msg    string
	}{
		{"valid token", "/verify-token", apiKey, `{"token":"` + minted.Token + `"}`, 200, ""},
		{"garbage token", "/verify-token", apiKey, `{"token":"garbage"}`, 401, "Invalid token"},
		{"forged token", "/verify-token", apiKey, `{"token":"` + minted.Token[:len(minted.Token)-4] + `AAAA"}`, 401, "Invalid token"},
		{"no token", "/verify-token", apiKey, `{}`, 400, ""},
		{"no api key", "/verify-token", nil, `{"token":"` + minted.Token + `"}`, 401, "Unauthorized"},
		{"wrong api key", "/verify-token", map[string]string{"x-api-key": "nope"}, `{"token":"x"}`, 401, "Unauthorized"},
		{"unknown route", "/nope", apiKey, `{}`, 404, "Not found"},
		{"mint bad json", etvas.TokensPath, nil, `{"ttlSeconds":"x"}`, 400, ""},
		{"mint negative ttl", etvas.TokensPath, nil, `{"ttlSeconds":-1}`, 400, ""},
		{"mint unknown field", etvas.TokensPath, nil, `{"context":"x"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.do(t, "POST", tt.path, tt.header, []byte(tt.body))
			if a.status != tt.want {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tt.want)
			}
			if tt.msg != "" && string(a.body) != `{"message":"`+tt.msg+`"}` {
				t.Fatalf("body %s", a.body)
			}
		})
	}
	// The journal shows the API calls, with the api key redacted, and not the control calls.
	var entries []sandboxkit.Entry
	if err := json.Unmarshal(s.do(t, "GET", sandboxkit.RequestsPath, nil, nil).body, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 7 {
		t.Fatalf("journal has %d entries, want 7", len(entries))
	}
	if entries[0].Path != "/verify-token" || entries[0].Status != 200 || entries[0].Header["X-Api-Key"] != sandboxkit.Redacted {
		t.Fatalf("first entry %+v", entries[0])
	}
}

// TestTokenExpiry uses a settable clock: a token is valid until its expiry, not after.
func TestTokenExpiry(t *testing.T) {
	clk := &clock{now: time.Now()}
	s := start(t, etvas.Config{Clock: clk.Now})
	m, _ := s.sb.Mint(etvas.MintRequest{TTLSeconds: 60})
	body := []byte(`{"token":"` + m.Token + `"}`)
	if a := s.do(t, "POST", "/verify-token", apiKey, body); a.status != 200 {
		t.Fatalf("fresh token: %d", a.status)
	}
	clk.Advance(61 * time.Second)
	if a := s.do(t, "POST", "/verify-token", apiKey, body); a.status != 401 {
		t.Fatalf("expired token: %d", a.status)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

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

// TestRequestSignatures: with a signing secret every API call must carry a valid
// x-signature over the canonical request and a fresh x-timestamp.
func TestRequestSignatures(t *testing.T) {
	const secret = "sandbox-signing-secret"
	clk := &clock{now: time.Now()}
	s := start(t, etvas.Config{SigningSecret: secret, Clock: clk.Now})
	m, _ := s.sb.Mint(etvas.MintRequest{})
	call := func(method, path string, body []byte, sign func(*http.Request, []byte)) int {
		req, _ := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
		req.Header.Set("x-api-key", etvas.DefaultAPIKey)
		req.Header.Set("x-etvas-context", m.ContextID)
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		if sign != nil {
			sign(req, body)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := func(r *http.Request, b []byte) { etvas.SignRequest(r, b, []byte(secret), clk.Now()) }
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		sign   func(*http.Request, []byte)
		want   int
	}{
		{"signed profile with query", "GET", "/user/profile?include=address", "", good, 200},
		{"signed verify", "POST", "/verify-token", `{"token":"` + m.Token + `"}`, good, 200},
		{"signed empty POST hashed as {}", "POST", "/user/notify", "", good, 400},
		{"unsigned", "GET", "/user/profile", "", nil, 403},
		{"wrong secret", "GET", "/user/profile", "", func(r *http.Request, b []byte) { etvas.SignRequest(r, b, []byte("other"), clk.Now()) }, 403},
		{"stale timestamp", "GET", "/user/profile", "", func(r *http.Request, b []byte) {
			etvas.SignRequest(r, b, []byte(secret), clk.Now().Add(-6*time.Minute))
		}, 403},
		{"signature of another path", "GET", "/purchase", "", func(r *http.Request, b []byte) {
			etvas.SignRequest(r, b, []byte(secret), clk.Now())
			r.URL.Path = "/user/profile"
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := call(tt.method, tt.path, []byte(tt.body), tt.sign); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFaultsAreWired: the kit's faults apply to the Etvas API (429 with Retry-After, outage)
// and never to the control endpoints.
func TestFaultsAreWired(t *testing.T) {
	s := start(t, etvas.DefaultConfig())
	if a := s.do(t, "POST", sandboxkit.FaultsPath, nil, []byte(`{"fail_next":1,"status":429,"retry_after_seconds":7}`)); a.status != 200 {
		t.Fatalf("set faults: %d %s", a.status, a.body)
	}
	a := s.do(t, "GET", "/external-data/k", apiKey, nil)
	if a.status != 429 || a.header.Get("Retry-After") != "7" {
		t.Fatalf("faulted: %d %v", a.status, a.header)
	}
	if a := s.do(t, "GET", "/external-data/k", apiKey, nil); a.status != 200 {
		t.Fatalf("after fail_next: %d", a.status)
	}
	s.do(t, "POST", sandboxkit.FaultsPath, nil, []byte(`{"outage_seconds":60}`))
	if a := s.do(t, "GET", "/external-data/k", apiKey, nil); a.status != 503 {
		t.Fatalf("outage: %d", a.status)
	}
	if a := s.do(t, "POST", etvas.TokensPath, nil, nil); a.status != 201 {
		t.Fatalf("control endpoint during outage: %d", a.status)
	}
}

// gateway is a fake gateway that checks events with the sandbox's own verification and
// answers like the real one (the portal answer echoes ids and partner ids).
type gateway struct {
	mu       sync.Mutex
	received []received
	status   int
}

type received struct {
	path   string
	header http.Header
	body   []byte
	err    error
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	err := etvas.VerifyEventSignature([]byte(etvas.DefaultEventSecret), body, r.Header.Get("x-etvas-signature"))
	g.mu.Lock()
	g.received = append(g.received, received{path: r.URL.Path, header: r.Header.Clone(), body: body, err: err})
	status := g.status
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.URL.Path != etvas.PortalEventsPath {
		_, _ = w.Write([]byte(`{"accepted":true}`))
		return
	}
	var ev struct {
		Event struct{ ID, Type string }
		User  struct{ ID string }
		Data  struct{ Product *struct{ ID string } }
	}
	_ = json.Unmarshal(body, &ev)
	out := map[string]any{"status": 200, "event": map[string]string{"id": ev.Event.ID}}
	if ev.Data.Product != nil {
		out["user"] = map[string]string{"id": ev.User.ID, "partnerId": "u-111111"}
		out["data"] = map[string]any{"product": map[string]string{"id": ev.Data.Product.ID, "partnerId": "p-222222"}}
	} else {
		out["data"] = map[string]any{"user": map[string]string{"id": ev.User.ID, "partnerId": "u-111111"}}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (g *gateway) last(t *testing.T) received {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.received) == 0 {
		t.Fatal("nothing delivered")
	}
	return g.received[len(g.received)-1]
}

// TestEventsUnderEveryReading delivers events of both formats through POST
// /_sandbox/events under every reading and checks headers and bodies follow it.
func TestEventsUnderEveryReading(t *testing.T) {
	gw := &gateway{status: http.StatusOK}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	for _, r := range etvas.ReadingVariants() {
		t.Run(r.String(), func(t *testing.T) {
			cfg := etvas.DefaultConfig()
			cfg.GatewayURL = gwSrv.URL
			cfg.Readings = r
			s := start(t, cfg)
			for _, format := range []string{etvas.FormatApp, etvas.FormatPortal} {
				name := map[string]string{etvas.FormatApp: "product.purchased", etvas.FormatPortal: "product.purchase"}[format]
				req := `{"format":"` + format + `","name":"` + name + `","contextId":"ctx-r","productId":"prod-r","eventId":"ev-1","timestamp":1700000000123}`
				a := s.do(t, "POST", etvas.EventsPath, nil, []byte(req))
				if a.status != 200 {
					t.Fatalf("%s: %d %s", format, a.status, a.body)
				}
				got := gw.last(t)
				if got.err != nil {
					t.Fatalf("%s signature: %v", format, got.err)
				}
				wantKey := format == etvas.FormatApp || r.PortalAPIKey == etvas.Present
				if (got.header.Get("x-api-key") == etvas.DefaultAPIKey) != wantKey || got.header.Get("Content-Type") != "application/json" || got.header.Get("Accept") != "application/json" {
					t.Fatalf("%s headers %v", format, got.header)
				}
				body := decodeJSON(t, got.body).(map[string]any)
				tsField := body["timestamp"]
				if format == etvas.FormatPortal {
					tsField = body["event"].(map[string]any)["timestamp"]
				}
				switch r.Timestamps {
				case etvas.TimestampsMilliseconds:
					if tsField != json.Number("1700000000123") {
						t.Fatalf("%s timestamp %v", format, tsField)
					}
				case etvas.TimestampsSeconds:
					if tsField != json.Number("1700000000") {
						t.Fatalf("%s timestamp %v", format, tsField)
					}
				case etvas.TimestampsAbsent:
					if tsField != nil {
						t.Fatalf("%s timestamp %v present", format, tsField)
					}
				}
				if format == etvas.FormatPortal {
					continue
				}
				payload := body["payload"].(map[string]any)
				if r.AppContextField == etvas.ContextFieldPurchaseID {
					if payload["purchaseId"] != "ctx-r" || payload["contextId"] != nil {
						t.Fatalf("payload %v", payload)
					}
				} else if payload["contextId"] != "ctx-r" || payload["purchaseId"] != nil {
					t.Fatalf("payload %v", payload)
				}
				if (body["id"] == "ev-1") != (r.AppEventID == etvas.Present) {
					t.Fatalf("id %v under %s", body["id"], r.AppEventID)
				}
			}
		})
	}
}

// TestPortalPartnerIDsAreSentBack: the ids the partner answered user.create and
// product.purchase with come back in later events, as the portal document says.
func TestPortalPartnerIDsAreSentBack(t *testing.T) {
	gw := &gateway{status: http.StatusOK}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	s := start(t, etvas.Config{GatewayURL: gwSrv.URL})
	send := func(name string) map[string]any {
		a := s.do(t, "POST", etvas.EventsPath, nil, []byte(`{"format":"portal","name":"`+name+`","contextId":"ctx-p","productId":"prod-p"}`))
		if a.status != 200 {
			t.Fatalf("%s: %d %s", name, a.status, a.body)
		}
		return decodeJSON(t, gw.last(t).body).(map[string]any)
	}
	first := send("user.create")
	if u := first["user"].(map[string]any); u["partnerId"] != nil || u["id"] != etvas.PortalUserID("ctx-p") {
		t.Fatalf("user.create user %v", u)
	}
	data := first["data"].(map[string]any)
	if data["user"].(map[string]any)["email"] != "erika.mustermann@example.com" || data["webIdentity"].(map[string]any)["status"] != "verified" {
		t.Fatalf("user.create data %v", data)
	}
	purchase := send("product.purchase")
	if purchase["user"].(map[string]any)["partnerId"] != "u-111111" {
		t.Fatalf("purchase user %v", purchase["user"])
	}
	if p := purchase["data"].(map[string]any)["product"].(map[string]any); p["partnerId"] != nil || p["price"] != json.Number("123.45") || p["id"] != "prod-p" {
		t.Fatalf("purchase product %v", p)
	}
	cancel := send("product.cancel")
	if p := cancel["data"].(map[string]any)["product"].(map[string]any); p["partnerId"] != "p-222222" {
		t.Fatalf("cancel product %v", p)
	}
	auth := cancel["user"].(map[string]any)["auth"].(map[string]any)
	tok, _ := auth["token"].(string)
	if a := s.do(t, "POST", "/verify-token", apiKey, []byte(`{"token":"`+tok+`"}`)); a.status != 401 {
		t.Fatalf("the canceled purchase's token still verifies: %d", a.status)
	}
	if st, _ := s.sb.PurchaseStatus("ctx-p"); st != etvas.PurchaseCanceled {
		t.Fatalf("status %s", st)
	}
	deleted := send("user.delete")
	if d := deleted["data"].(map[string]any); len(d) != 0 {
		t.Fatalf("user.delete data %v", d)
	}
}

// TestPurchaseIsFormal: a purchase the gateway refuses is a failed purchase at Etvas (its
// token no longer verifies); informal events change the status whatever the answer.
func TestPurchaseIsFormal(t *testing.T) {
	gw := &gateway{status: http.StatusInternalServerError}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	s := start(t, etvas.Config{GatewayURL: gwSrv.URL})
	if a := s.do(t, "POST", etvas.EventsPath, nil, []byte(`{"name":"product.purchased","contextId":"ctx-f"}`)); a.status != 500 {
		t.Fatalf("answer %d", a.status)
	}
	if st, ok := s.sb.PurchaseStatus("ctx-f"); !ok || st != etvas.PurchaseFailed {
		t.Fatalf("status %s %v", st, ok)
	}
	s.do(t, "POST", etvas.EventsPath, nil, []byte(`{"name":"product.suspended","contextId":"ctx-f"}`))
	if st, _ := s.sb.PurchaseStatus("ctx-f"); st != etvas.PurchaseSuspended {
		t.Fatalf("status after suspend %s", st)
	}
	gw.mu.Lock()
	gw.status = http.StatusNoContent
	gw.mu.Unlock()
	s.do(t, "POST", etvas.EventsPath, nil, []byte(`{"name":"product.purchased","contextId":"ctx-f"}`))
	if st, _ := s.sb.PurchaseStatus("ctx-f"); st != etvas.PurchaseActive {
		t.Fatalf("status after an accepted purchase %s", st)
	}
}

func TestEventErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens here any more

	tests := []struct {
		name    string
		gateway string
		request string
		want    int
	}{
		{"no gateway configured", "", `{"name":"product.purchased","contextId":"c"}`, http.StatusConflict},
		{"missing name", "http://127.0.0.1:1", `{"contextId":"c"}`, http.StatusBadRequest},
		{"missing context", "http://127.0.0.1:1", `{"name":"x"}`, http.StatusBadRequest},
		{"bad format", "http://127.0.0.1:1", `{"format":"xml","name":"x","contextId":"c"}`, http.StatusBadRequest},
		{"unknown field", "http://127.0.0.1:1", `{"name":"x","contextId":"c","extra":1}`, http.StatusBadRequest},
		{"negative timestamp", "http://127.0.0.1:1", `{"name":"x","contextId":"c","timestamp":-1}`, http.StatusBadRequest},
		{"gateway down", closedURL, `{"name":"x","contextId":"c"}`, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, etvas.Config{GatewayURL: tt.gateway})
			if a := s.do(t, "POST", etvas.EventsPath, nil, []byte(tt.request)); a.status != tt.want || !bytes.Contains(a.body, []byte(`"message"`)) {
				t.Fatalf("status %d body %s, want %d", a.status, a.body, tt.want)
			}
		})
	}
}

// TestDeliverAndSign: the package-level API `covergate sandbox send etvas` uses.
func TestDeliverAndSign(t *testing.T) {
	gw := &gateway{status: http.StatusAccepted}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	ev := etvas.EventRequest{Name: "purchase.canceled", ContextID: "ctx-d"}
	if err := ev.Validate(time.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := etvas.Deliver(t.Context(), etvas.NewDeliveryClient(), gwSrv.URL, ev, etvas.DefaultAPIKey, []byte(etvas.DefaultEventSecret))
	if err != nil || d.Status != http.StatusAccepted || string(d.Body) != `{"accepted":true}` {
		t.Fatalf("deliver: %+v %v", d, err)
	}
	got := gw.last(t)
	if got.err != nil || got.path != etvas.AppEventsPath || !bytes.Equal(got.body, d.Sent) {
		t.Fatalf("received %+v", got)
	}
	if !etvas.IsPurchase("Product.Purchased ") || !etvas.IsPurchase("product.purchase") || etvas.IsPurchase("purchase.canceled") {
		t.Fatal("IsPurchase")
	}
	// A documented example sent verbatim.
	doc := fixture(t, "app/user-deleted.event.json")
	out := etvas.Sign(etvas.AppEventsPath, doc, true, etvas.DefaultAPIKey, []byte(etvas.DefaultEventSecret))
	if _, err := etvas.Send(t.Context(), http.DefaultClient, gwSrv.URL, out); err != nil {
		t.Fatal(err)
	}
	if got := gw.last(t); got.err != nil || !bytes.Equal(got.body, doc) {
		t.Fatalf("verbatim example: %v", got.err)
	}
	// Signature check is strict: other secret, truncated, missing.
	for _, sig := range []string{etvas.SignEvent([]byte("other"), doc), etvas.SignEvent([]byte(etvas.DefaultEventSecret), doc)[:10], "", "zz"} {
		if etvas.VerifyEventSignature([]byte(etvas.DefaultEventSecret), doc, sig) == nil {
			t.Fatalf("signature %q accepted", sig)
		}
	}
	// Known HMAC-SHA256 vector.
	if got := etvas.SignEvent([]byte("key"), []byte("The quick brown fox jumps over the lazy dog")); got != "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Fatalf("vector %s", got)
	}
	if _, err := etvas.Deliver(t.Context(), http.DefaultClient, "ftp://x", ev, "k", nil); err == nil {
		t.Fatal("non-http gateway accepted")
	}
}
