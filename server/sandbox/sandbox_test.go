package sandbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/sandbox"
	"github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/sandbox/scalepoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func TestStartServesAllThree(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, a, s := sb.URLs()
	for _, u := range []string{e, a, s} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("URL %q is not on loopback", u)
		}
		var entries []sandboxkit.Entry
		if status := getJSON(t, u+sandboxkit.RequestsPath, &entries); status != 200 || len(entries) != 0 {
			t.Fatalf("%s journal: %d %v", u, status, entries)
		}
	}
	// The Etvas sandbox answers a documented verify-token call with the defaults the gateway uses.
	minted, err := sb.Etvas.Mint(etvas.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vreq, _ := http.NewRequest(http.MethodPost, e+"/verify-token", strings.NewReader(`{"token":"`+minted.Token+`"}`))
	vreq.Header.Set("Content-Type", "application/json")
	vreq.Header.Set("x-api-key", etvas.DefaultAPIKey)
	vresp, err := http.DefaultClient.Do(vreq)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ContextID string `json:"contextId"`
	}
	err = json.NewDecoder(vresp.Body).Decode(&v)
	vresp.Body.Close()
	if err != nil || vresp.StatusCode != 200 || v.ContextID != minted.ContextID {
		t.Fatalf("verify through the runner: %d %+v %v", vresp.StatusCode, v, err)
	}
	var entries []sandboxkit.Entry
	getJSON(t, e+sandboxkit.RequestsPath, &entries)
	if len(entries) != 1 || entries[0].Path != "/verify-token" || entries[0].Status != 200 {
		t.Fatalf("etvas journal %+v", entries)
	}
	// The other two are the real partner sandboxes (each answers its own routes).
	if status := getJSON(t, s+"/_sandbox/stats", nil); status != 200 {
		t.Fatalf("scalepoint stats: %d", status)
	}
	if len(sb.Avata.Kit().Requests()) != 0 || len(sb.Scalepoint.Kit().Requests()) != 0 {
		t.Fatal("journals are shared between partners")
	}

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sb.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sb.Close(closeCtx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(e + sandboxkit.RequestsPath); err == nil {
		t.Fatal("etvas sandbox still serving after Close")
	}
}

func TestStartFailsCleanlyOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = sandbox.Start(context.Background(), sandbox.Config{ScalepointAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "scalepoint") {
		t.Fatalf("err = %v, want a scalepoint listen error", err)
	}
	// goleak (TestMain) proves nothing was left running.
}

// syncBuffer is a goroutine-safe output sink for RunCommand.
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

var urlLine = regexp.MustCompile(`(?m)^(etvas|avata|scalepoint)\s+(http://\S+)`)

func TestRunCommandStandalone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- sandbox.RunCommand(ctx, []string{"--gateway-url", "http://127.0.0.1:1"}, &stdout, &stderr)
	}()

	urls := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(urls) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("URLs not printed; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
		for _, m := range urlLine.FindAllStringSubmatch(stdout.String(), -1) {
			urls[m[1]] = m[2]
		}
	}
	// The journal shows what was called.
	req, _ := http.NewRequest(http.MethodGet, urls["etvas"]+"/purchase", nil)
	req.Header.Set("x-api-key", etvas.DefaultAPIKey)
	req.Header.Set("x-etvas-context", "nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var entries []sandboxkit.Entry
	getJSON(t, urls["etvas"]+sandboxkit.RequestsPath, &entries)
	if len(entries) != 1 || entries[0].Path != "/purchase" || entries[0].Status != 404 || entries[0].Header["X-Api-Key"] != sandboxkit.Redacted {
		t.Fatalf("journal %+v", entries)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCommand: %v", err)
	}
	if !strings.Contains(stdout.String(), "partner sandboxes stopped") {
		t.Fatalf("stdout %q", stdout.String())
	}
}

func TestRunCommandRejectsBadArguments(t *testing.T) {
	tests := [][]string{
		{"--no-such-flag"},
		{"extra"},
		{"--gateway-url", "ftp://x"},
		{"--scalepoint-publish-id", "uuid"},
		{"send"},
		{"send", "acme", "x"},
		{"send", "etvas", "product.purchased"},           // no context id
		{"send", "etvas", "--context-id", "c"},           // no event name
		{"send", "etvas", "a", "b", "--context-id", "c"}, // two names
		{"send", "etvas", "product.purchased", "--context-id", "c", "--format", "xml"},                 // bad format
		{"send", "etvas", "product.purchased", "--context-id", "c", "--gateway-url", "localhost:8080"}, // not a URL
		{"send", "avata", "policy-update"},                                           // no policy uuid
		{"send", "avata", "policy-update", "--policy-uuid", "p", "--status", "DONE"}, // unknown status
		{"send", "avata", "nft-update", "--policy-uuid", "p"},                        // unknown type
		{"send", "scalepoint", "case_created", "--attributes", "[1]"},                // not an object
		{"send", "scalepoint"},                                                       // no type
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := sandbox.RunCommand(context.Background(), args, &out, &errOut); err == nil {
				t.Fatalf("RunCommand(%q) succeeded; stdout %q", args, out.String())
			}
		})
	}
}

// The gateway routes of the two Etvas event formats (developer portal: /etvas-events; Etvas
// App: /etvas/events).
const (
	appEventsPath    = "/etvas/events"
	portalEventsPath = "/etvas-events"
)

// checkHMAC verifies a hex HMAC-SHA256 of body, written here without the adapters' code.
func checkHMAC(secret string, body []byte, header string) error {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	got, err := hex.DecodeString(header)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("bad signature")
	}
	return nil
}

// fakeGateway verifies each partner's signature like the real gateway must, and answers
// with a configurable status.
type fakeGateway struct {
	mu       sync.Mutex
	status   int
	received map[string][]byte // path → last body
	failures []string
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var err error
	switch r.URL.Path {
	case appEventsPath, portalEventsPath:
		err = checkHMAC(etvas.DefaultEventSecret, body, r.Header.Get("x-etvas-signature"))
		if err == nil && r.Header.Get("x-api-key") != etvas.DefaultAPIKey {
			err = errors.New("wrong api key")
		}
	case avata.CallbackPath:
		err = checkHMAC(avata.DefaultCallbackSecret, body, r.Header.Get("X-Avata-Signature"))
	case "/webhooks/scalepoint":
		if r.Header.Get("Authorization") != "Bearer "+scalepoint.DefaultWebhookToken {
			err = errors.New("wrong bearer token")
		}
	default:
		err = errors.New("unexpected path " + r.URL.Path)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.failures = append(g.failures, err.Error())
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"signature"}`))
		return
	}
	g.received[r.URL.Path] = body
	w.WriteHeader(g.status)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func TestRunCommandSend(t *testing.T) {
	gw := &fakeGateway{status: http.StatusOK, received: map[string][]byte{}}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	tests := []struct {
		name  string
		args  []string
		path  string
		check func(t *testing.T, body []byte)
	}{
		{
			name: "etvas app event",
			args: []string{"send", "etvas", "product.purchased", "--context-id", "ctx-1", "--product-id", "prod-1", "--gateway-url", srv.URL},
			path: appEventsPath,
			check: func(t *testing.T, body []byte) {
				var ev struct {
					Name    string `json:"name"`
					Payload struct {
						ProductID string `json:"productId"`
						ContextID string `json:"contextId"`
					} `json:"payload"`
					Timestamp int64 `json:"timestamp"`
				}
				if err := json.Unmarshal(body, &ev); err != nil || ev.Name != "product.purchased" || ev.Payload.ContextID != "ctx-1" || ev.Payload.ProductID != "prod-1" || ev.Timestamp == 0 {
					t.Fatalf("event %s (%v)", body, err)
				}
			},
		},
		{
			name: "etvas portal event, flags first",
			args: []string{"send", "etvas", "--format", "portal", "--gateway-url", srv.URL, "--context-id", "ctx-2", "product.cancel"},
			path: portalEventsPath,
			check: func(t *testing.T, body []byte) {
				var ev struct {
					Event struct {
						Type string `json:"type"`
					} `json:"event"`
				}
				if err := json.Unmarshal(body, &ev); err != nil || ev.Event.Type != "product.cancel" {
					t.Fatalf("event %s (%v)", body, err)
				}
			},
		},
		{
			name: "avata policy update",
			args: []string{"send", "avata", "policy-update", "--policy-uuid", "pol-1", "--reference", "ref-1", "--gateway-url", srv.URL},
			path: avata.CallbackPath,
			check: func(t *testing.T, body []byte) {
				cb, err := decodeCallback(body)
				if err != nil || cb.EventType != "policy-update" || cb.Body["uuid"] != "pol-1" || cb.Body["status"] != "ACCEPTED" || cb.Body["reference"] != "ref-1" {
					t.Fatalf("callback %s (%v)", body, err)
				}
			},
		},
		{
			name: "avata claim update",
			args: []string{"send", "avata", "claim-update", "--policy-uuid", "pol-1", "--claim-uuid", "cl-1", "--status", "rejected", "--gateway-url", srv.URL},
			path: avata.CallbackPath,
			check: func(t *testing.T, body []byte) {
				cb, err := decodeCallback(body)
				if err != nil || cb.EventType != "claim-update" || cb.Body["uuid"] != "cl-1" || cb.Body["policyUuid"] != "pol-1" || cb.Body["status"] != "REJECTED" {
					t.Fatalf("callback %s (%v)", body, err)
				}
			},
		},
		{
			name: "scalepoint event",
			args: []string{"send", "scalepoint", "case_created", "--attributes", `{"caseNumber":"C-1"}`, "--event-id", "_42", "--gateway-url", srv.URL},
			path: "/webhooks/scalepoint",
			check: func(t *testing.T, body []byte) {
				var ev struct {
					ID         string         `json:"id"`
					Type       string         `json:"type"`
					Attributes map[string]any `json:"attributes"`
				}
				err := json.Unmarshal(body, &ev)
				if err != nil || ev.ID != "_42" || ev.Type != "case_created" || ev.Attributes["eventType"] != "case_created" || ev.Attributes["correlationId"] == "" || ev.Attributes["caseNumber"] != "C-1" {
					t.Fatalf("event %s (%+v, %v)", body, ev, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := sandbox.RunCommand(context.Background(), tt.args, &out, &errOut); err != nil {
				t.Fatalf("RunCommand: %v (stdout %q, stderr %q, gateway failures %v)", err, out.String(), errOut.String(), gw.failures)
			}
			if out.String() != "HTTP 200 OK\n{\"ok\":true}\n" {
				t.Fatalf("stdout %q", out.String())
			}
			gw.mu.Lock()
			body := gw.received[tt.path]
			gw.mu.Unlock()
			tt.check(t, body)
		})
	}

	t.Run("wrong secret is refused and reported", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := sandbox.RunCommand(context.Background(), []string{"send", "etvas", "product.purchased", "--context-id", "c", "--event-secret", "wrong", "--gateway-url", srv.URL}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.HasPrefix(out.String(), "HTTP 403 Forbidden\n") {
			t.Fatalf("err %v, stdout %q", err, out.String())
		}
	})
	t.Run("gateway down", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		var out, errOut bytes.Buffer
		if err := sandbox.RunCommand(context.Background(), []string{"send", "avata", "policy-update", "--policy-uuid", "p", "--gateway-url", "http://" + addr}, &out, &errOut); err == nil {
			t.Fatal("delivery to a closed port succeeded")
		}
	})
}

func TestEmbeddedSandboxDeliversEtvasEvents(t *testing.T) {
	gw := &fakeGateway{status: http.StatusNoContent, received: map[string][]byte{}}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	sb, err := sandbox.Start(context.Background(), sandbox.Config{GatewayURL: gwSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	e, _, _ := sb.URLs()
	resp, err := http.Post(e+etvas.EventsPath, "application/json", strings.NewReader(`{"name":"product.purchased","contextId":"ctx-7"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("event answer %d (gateway failures %v)", resp.StatusCode, gw.failures)
	}
	gw.mu.Lock()
	defer gw.mu.Unlock()
	if !bytes.Contains(gw.received[appEventsPath], []byte(`"contextId":"ctx-7"`)) {
		t.Fatalf("gateway got %s", gw.received[appEventsPath])
	}
}

// avataCallback is the documented callback shape, decoded by the test itself.
type avataCallback struct {
	EventType string         `json:"eventType"`
	Body      map[string]any `json:"body"`
}

func decodeCallback(b []byte) (avataCallback, error) {
	var cb avataCallback
	err := json.Unmarshal(b, &cb)
	return cb, err
}
