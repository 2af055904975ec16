package etvas_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	etvasapi "github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gateway is a fake gateway that verifies events like the real one must.
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
	err := etvasapi.VerifyWebhookSignature([]byte(etvas.DefaultEventSecret), body, r.Header.Get("x-etvas-signature"))
	g.mu.Lock()
	g.received = append(g.received, received{path: r.URL.Path, header: r.Header.Clone(), body: body, err: err})
	status := g.status
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"accepted":true}`))
}

func post(t *testing.T, url string, header map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
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
	return resp.StatusCode, resp.Header, string(b)
}

func start(t *testing.T, cfg etvas.Config) (*etvas.Server, *httptest.Server) {
	t.Helper()
	sb := etvas.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return sb, srv
}

func TestEventsAreSignedAndDelivered(t *testing.T) {
	gw := &gateway{status: http.StatusAccepted}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	cfg := etvas.DefaultConfig()
	cfg.GatewayURL = gwSrv.URL
	_, srv := start(t, cfg)

	tests := []struct {
		name     string
		request  string
		wantPath string
		check    func(t *testing.T, body []byte)
	}{
		{
			name:     "app format",
			request:  `{"format":"app","name":"product.purchased","contextId":"ctx-1","productId":"prod-1","timestamp":1700000000123}`,
			wantPath: "/etvas/events",
			check: func(t *testing.T, body []byte) {
				var ev etvasapi.AppEvent
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Name != "product.purchased" || ev.Payload.ContextID != "ctx-1" || ev.Payload.ProductID != "prod-1" || ev.Timestamp != 1700000000123 {
					t.Fatalf("event = %+v", ev)
				}
			},
		},
		{
			name:     "app format defaults",
			request:  `{"name":"purchase.canceled","contextId":"ctx-2"}`,
			wantPath: "/etvas/events",
			check: func(t *testing.T, body []byte) {
				var ev etvasapi.AppEvent
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if err := etvasapi.CheckTimestamp(ev.Timestamp, time.Now(), time.Minute); err != nil || ev.Payload.ProductID == "" {
					t.Fatalf("defaults not filled: %+v (%v)", ev, err)
				}
			},
		},
		{
			name:     "portal format",
			request:  `{"format":"portal","name":"product.purchase","contextId":"ctx-3","productId":"prod-3"}`,
			wantPath: "/etvas-events",
			check: func(t *testing.T, body []byte) {
				var ev etvasapi.PortalEvent
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Event.Type != "product.purchase" || ev.Event.ID == "" || ev.User.ID == "" || !strings.Contains(string(ev.Data["product"]), "prod-3") {
					t.Fatalf("event = %s", body)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := post(t, srv.URL+etvas.EventsPath, nil, tt.request)
			if status != http.StatusAccepted || body != `{"accepted":true}` || header.Get("X-Sandbox-Delivered-To") != tt.wantPath {
				t.Fatalf("answer %d %q %v", status, body, header)
			}
			gw.mu.Lock()
			got := gw.received[i]
			gw.mu.Unlock()
			if got.path != tt.wantPath || got.err != nil {
				t.Fatalf("gateway got path %s, signature error %v", got.path, got.err)
			}
			if got.header.Get("x-api-key") != etvas.DefaultAPIKey || got.header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", got.header)
			}
			tt.check(t, got.body)
		})
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
		{"gateway down", closedURL, `{"name":"x","contextId":"c"}`, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := etvas.DefaultConfig()
			cfg.GatewayURL = tt.gateway
			_, srv := start(t, cfg)
			if status, _, body := post(t, srv.URL+etvas.EventsPath, nil, tt.request); status != tt.want || !strings.Contains(body, `"message"`) {
				t.Fatalf("status %d body %s, want %d", status, body, tt.want)
			}
		})
	}
}

func TestMintVerifyAndAuthOverHTTP(t *testing.T) {
	sb, srv := start(t, etvas.DefaultConfig())
	status, _, body := post(t, srv.URL+etvas.TokensPath, nil, `{"contextId":"ctx-9","profile":{"firstName":"A","lastName":"B","email":"a@b.example","phoneNumber":"+1"}}`)
	if status != http.StatusCreated {
		t.Fatalf("mint: %d %s", status, body)
	}
	var minted etvas.MintResponse
	if err := json.Unmarshal([]byte(body), &minted); err != nil || minted.Token == "" || minted.ContextID != "ctx-9" || time.Until(minted.ExpiresAt) < 50*time.Minute {
		t.Fatalf("minted %+v (%v)", minted, err)
	}
	key := map[string]string{"x-api-key": etvas.DefaultAPIKey, "Content-Type": "application/json"}
	tests := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		want   int
		msg    string
	}{
		{"valid token", "/verify-token", key, `{"token":"` + minted.Token + `"}`, 200, ""},
		{"garbage token", "/verify-token", key, `{"token":"garbage"}`, 401, "Invalid token"},
		{"no token", "/verify-token", key, `{}`, 400, ""},
		{"no api key", "/verify-token", nil, `{"token":"` + minted.Token + `"}`, 401, "Unauthorized"},
		{"wrong api key", "/verify-token", map[string]string{"x-api-key": "nope"}, `{"token":"x"}`, 401, "Unauthorized"},
		{"unknown route", "/nope", key, `{}`, 404, "Not found"},
		{"mint bad json", etvas.TokensPath, nil, `{"ttlSeconds":"x"}`, 400, ""},
		{"mint negative ttl", etvas.TokensPath, nil, `{"ttlSeconds":-1}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, srv.URL+tt.path, tt.header, tt.body)
			if status != tt.want {
				t.Fatalf("status %d (%s), want %d", status, body, tt.want)
			}
			if tt.msg != "" && body != `{"message":"`+tt.msg+`"}` {
				t.Fatalf("body %s", body)
			}
		})
	}
	// The journal (over HTTP) shows the API calls, with the api key redacted, and not
	// the control calls.
	resp, err := http.Get(srv.URL + sandboxkit.RequestsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var entries []sandboxkit.Entry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Fatalf("journal has %d entries, want 6", len(entries))
	}
	if entries[0].Path != "/verify-token" || entries[0].Status != 200 || entries[0].Header["X-Api-Key"] != sandboxkit.Redacted {
		t.Fatalf("first entry %+v", entries[0])
	}
	if sb.Kit() == nil || len(sb.Kit().Requests()) != 6 {
		t.Fatal("Kit() does not expose the same journal")
	}
}
