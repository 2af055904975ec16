// Package apptest starts a real Covergate gateway for a test: random loopback ports, a fresh
// SQLite file (or a given database), the embedded partner sandbox, and clients for both
// transports. Every end-to-end test uses it, so they all exercise the same wiring as production.
package apptest

import (
	"bytes"
	"context"
	"crypto/tls"
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
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
)

// API keys configured on every test gateway.
const (
	AllKey    = "test-key-all-scopes"
	ReaderKey = "test-key-policies-read"
)

// Server is a running gateway.
type Server struct {
	App     *app.App
	HTTPURL string
	Conn    *grpc.ClientConn
	Logs    *SyncBuffer
	// HTTP is the client Do uses. For a TLS server it skips certificate verification: the
	// harness only needs to reach the server; tests that check certificates build strict clients.
	HTTP *http.Client
}

// Start runs a gateway until the test ends. mutate adjusts the configuration.
func Start(t testing.TB, mutate ...func(*app.Config)) *Server {
	t.Helper()
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.APIKeys = AllKey + ":*;" + ReaderKey + ":policies.read"
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxUploadBytes = 256 << 10
	// net/http's Shutdown treats a connection that was accepted but has sent no request yet as
	// busy for its first 5 s (partner HTTP clients open such spare connections): the budget must
	// exceed that, as the production default (20 s) does.
	cfg.ShutdownTimeout = 15 * time.Second
	cfg.Database = "sqlite:" + t.TempDir() + "/covergate.db"
	cfg.Partners.Mode = app.PartnersSandbox
	cfg.Partners.SandboxEtvasAddr, cfg.Partners.SandboxAvataAddr, cfg.Partners.SandboxScalepointAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	scheme, creds, httpClient := "http://", insecure.NewCredentials(), &http.Client{}
	if cfg.TLSCertFile != "" {
		harness := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test harness reachability only
		scheme, creds = "https://", credentials.NewTLS(harness)
		httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: harness}}
	}
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		cancel()
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
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop within 30s")
		}
	})
	s := &Server{App: a, HTTPURL: scheme + a.HTTPAddr(), Conn: conn, Logs: logs, HTTP: httpClient}
	s.waitReady(t)
	return s
}

func (s *Server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := s.HTTP.Get(s.HTTPURL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("gateway not ready within 10s")
}

// Result is an HTTP answer, read whole.
type Result struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Do sends an HTTP request to the gateway. A non-nil body is sent as application/json unless
// header overrides Content-Type; token, when set, is sent as a bearer token.
func (s *Server) Do(t testing.TB, method, path, token string, body io.Reader, header map[string]string) Result {
	t.Helper()
	req, err := http.NewRequest(method, s.HTTPURL+path, body)
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
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Result{Code: resp.StatusCode, Header: resp.Header, Body: b}
}

// JSON is Do with a string body.
func (s *Server) JSON(t testing.TB, method, path, token, body string) Result {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return s.Do(t, method, path, token, r, nil)
}

// RESTStatus decodes a REST error body, which must be a google.rpc.Status.
func RESTStatus(t testing.TB, r Result) *status.Status {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q, want application/json; body %s", ct, r.Body)
	}
	var p spb.Status
	if err := protojson.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %s", err, r.Body)
	}
	return status.FromProto(&p)
}

// WithToken returns a context whose gRPC calls carry token as a bearer token.
func WithToken(token string) context.Context {
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return ctx
}

// ErrorInfo returns the status's ErrorInfo, failing the test if there is none or if it lacks the
// domain or request id every Covergate error carries.
func ErrorInfo(t testing.TB, st *status.Status) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetDomain() != apierror.Domain {
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

// Violations lists a status's BadRequest field violations as "field|rule".
func Violations(st *status.Status) []string {
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

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
