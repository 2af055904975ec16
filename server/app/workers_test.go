package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/supervise"
)

// TestDeadWorkerStopsTheGateway: a background worker that fails for good turns /readyz to 503
// (naming the worker) and then ends Run with the failure, so the process exits non-zero instead
// of serving on without it. A worker failing transiently is restarted and changes nothing.
func TestDeadWorkerStopsTheGateway(t *testing.T) {
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.APIKeys = apptest.AllKey + ":*"
	cfg.ShutdownTimeout = 8 * time.Second // the failure drain is a quarter of it: 2 s of 503
	cfg.Database = "sqlite:" + filepath.Join(t.TempDir(), "covergate.db")
	cfg.Partners.Mode = app.PartnersSandbox
	cfg.Partners.SandboxEtvasAddr, cfg.Partners.SandboxAvataAddr, cfg.Partners.SandboxScalepointAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	logs := &apptest.SyncBuffer{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	kill := make(chan struct{})
	a.AddWorker(supervise.Worker{Name: "doomed", Run: func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-kill:
			return supervise.Permanent(errors.New("lost its database for good"))
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + a.HTTPAddr() + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, func() bool { code, _ := readyz(); return code == http.StatusOK })

	close(kill)
	var body string
	waitFor(t, func() bool {
		var code int
		code, body = readyz()
		return code == http.StatusServiceUnavailable
	})
	st := apptest.RESTStatus(t, apptest.Result{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)})
	if !strings.Contains(st.Message(), "background worker doomed failed") || strings.Contains(st.Message(), "database") {
		t.Fatalf("/readyz answer %s: want the failed worker named, without its error's details", body)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "worker doomed failed") {
			t.Fatalf("Run = %v, want the worker's failure", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the gateway kept running after its worker died")
	}
	if !strings.Contains(logs.String(), "no longer ready") {
		t.Fatalf("failure not logged:\n%s", logs)
	}
}

// waitFor polls cond until it holds, failing after a generous bound (liveness, not timing).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
