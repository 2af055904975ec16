package profiling

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/covergate/covergate/bench/baseline"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
)

// The handler benchmarks call the gateway's HTTP handler in process, without a network: what
// they measure (ns/op, allocs/op) is the gateway's own cost per REST call with every product
// guarantee on and production logging (JSON at info), next to BenchmarkHandlerBaseline, the raw
// net/http handler of covergate-bench (same service code, same JSON). Their difference is the
// overhead the transport benchmark's "CPU per request" ratio measures, minus the network:
//
//	go test -run '^$' -bench Handler -benchmem -cpu 1 ./bench/profiling

// productionApp starts a gateway (SQLite, sandbox partners) that logs like production, with
// one policy, and returns its id.
func productionApp(b *testing.B) (*app.App, string) {
	b.Helper()
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.APIKeys = apptest.AllKey + ":*"
	cfg.Database = "sqlite:" + b.TempDir() + "/covergate.db"
	cfg.Partners.Mode = app.PartnersSandbox
	cfg.Partners.SandboxEtvasAddr, cfg.Partners.SandboxAvataAddr, cfg.Partners.SandboxScalepointAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.NewLogger("json", "info", io.Discard))
	if err != nil {
		cancel()
		b.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }() // stopped by cancel in the cleanup, which waits for it
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	return a, seedPolicy(b, a.Store())
}

func seedPolicy(b *testing.B, st store.Store) string {
	b.Helper()
	var id string
	now := time.Now()
	err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		p, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, Status: domain.PolicyActive,
			Premium: domain.Money{Amount: "1", Currency: "EUR"}, EtvasContextID: "c", StartTime: now, EndTime: now, StatusTime: now})
		id = p.ID
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// discardWriter is a ResponseWriter that keeps the status and drops the body, with a fresh
// header map per request as net/http gives.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

func serveLoop(b *testing.B, h http.Handler, path string) {
	b.Helper()
	b.ReportAllocs()
	// 16 callers, as covergate-bench's transport benchmark: garbage collection and lock
	// contention then cost what they cost under load.
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	start := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := serveOne(h, path); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// The process's CPU time (user + system) per call: unlike ns/op it does not depend on how
	// much of the machine other work leaves to this benchmark.
	b.ReportMetric(float64((processCPU(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

func serveOne(h http.Handler, path string) error {
	// net/http gives every request a context canceled when the request ends (the database
	// layers watch it), and so does this loop.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://gateway"+path, nil)
	if err != nil {
		return err
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
	w := &discardWriter{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		return fmt.Errorf("status %d", w.status)
	}
	return nil
}

// processCPU is the CPU time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandlerREST is GET /v1/policies/{id} through the gateway's whole HTTP handler.
func BenchmarkHandlerREST(b *testing.B) {
	a, id := productionApp(b)
	serveLoop(b, a.HTTPHandler(), "/v1/policies/"+id)
}

// BenchmarkHandlerBaseline is the same call through covergate-bench's raw handler (no auth, no
// logs, no gRPC): the practical limit.
func BenchmarkHandlerBaseline(b *testing.B) {
	a, id := productionApp(b)
	policies := api.NewServices(api.Deps{
		Store: a.Store(), Lifecycle: lifecycle.New(lifecycle.Config{Now: time.Now}), Now: time.Now,
		Logger: app.NewLogger("json", "warn", io.Discard), Stopping: b.Context().Done(),
	}).Policies
	serveLoop(b, baseline.Handler(policies), "/v1/policies/"+id)
}
