package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/store/pgtest"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestNewFailureReleasesEverything: when start-up fails late (the store is open, the gRPC and
// HTTP listeners are bound, some sandboxes run), New returns the cause and releases all of it:
// the ports are free again and no goroutine it started is left.
func TestNewFailureReleasesEverything(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			cfg := app.Defaults()
			cfg.GRPCAddr, cfg.HTTPAddr = freeAddr(t), freeAddr(t)
			cfg.APIKeys = "startup-test-key:*"
			cfg.Database = "sqlite:" + filepath.Join(t.TempDir(), "covergate.db")
			if engine == "postgres" {
				cfg.Database = pgtest.FreshDSN(t)
			}
			cfg.Partners.Mode = app.PartnersSandbox
			// The Scalepoint sandbox starts last: Etvas and Avata are running when it fails.
			cfg.Partners.SandboxEtvasAddr, cfg.Partners.SandboxAvataAddr = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Partners.SandboxScalepointAddr = taken.Addr().String()
			a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || a != nil {
				t.Fatalf("New = %v, %v; want an error", a, err)
			}
			if !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("error %q does not name the cause", err)
			}
			for _, addr := range []string{cfg.GRPCAddr, cfg.HTTPAddr} {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatalf("%s still bound after the failed start: %v", addr, err)
				}
				_ = l.Close()
			}
		})
	}
}

// TestAutoPartnersOnlyOnLoopback: --partners auto picks the sandbox (publicly known secrets) only
// when every listener is on loopback; otherwise the configuration is refused naming
// --partners sandbox and the credentials to set. Explicit modes are not affected.
func TestAutoPartnersOnlyOnLoopback(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*app.Config)
		refused string // the offending listener, "" = accepted
	}{
		{"defaults (loopback)", func(*app.Config) {}, ""},
		{"localhost and ::1", func(c *app.Config) { c.GRPCAddr, c.HTTPAddr = "localhost:9090", "[::1]:8080" }, ""},
		{"http on every interface", func(c *app.Config) { c.HTTPAddr = "0.0.0.0:8080" }, "http-addr 0.0.0.0:8080"},
		{"grpc with empty host", func(c *app.Config) { c.GRPCAddr = ":9090" }, "grpc-addr :9090"},
		{"grpc on a host name", func(c *app.Config) { c.GRPCAddr = "gateway.internal:9090" }, "grpc-addr gateway.internal:9090"},
		{"sandbox on a public address", func(c *app.Config) { c.Partners.SandboxAvataAddr = "10.0.0.5:9182" }, "sandbox-avata-addr 10.0.0.5:9182"},
		{"explicit sandbox on a public address", func(c *app.Config) {
			c.HTTPAddr, c.Partners.Mode = "0.0.0.0:8080", app.PartnersSandbox
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app.Defaults()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted auto partners without credentials on a non-loopback listener")
			}
			for _, want := range []string{tc.refused, "--partners sandbox", "etvas-api-key", "avata-api-key", "scalepoint-client-id"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
	// With a credential, auto means live: the live checks apply instead (missing ones listed).
	cfg := app.Defaults()
	cfg.HTTPAddr, cfg.Partners.EtvasAPIKey = "0.0.0.0:8080", "etvas-key"
	err := cfg.Validate()
	if err == nil || strings.Contains(err.Error(), "partners auto") || !strings.Contains(err.Error(), "avata-api-key is required with live partners") {
		t.Fatalf("auto with a credential: %v", err)
	}
}
