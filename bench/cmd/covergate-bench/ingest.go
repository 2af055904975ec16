package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/covergate/covergate/bench/gatewayproc"
	"github.com/covergate/covergate/bench/loadgen"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
)

// ingestRun is one measured pass of webhook ingestion.
type ingestRun struct {
	Throughput float64
	P50, P99   time.Duration
	// CPU time per event of the gateway and of the PostgreSQL backends serving it (distinct
	// rounds only; DBCPU is zero on SQLite, which runs in the gateway).
	GatewayCPU, DBCPU time.Duration
}

// ingestResult is one engine's figures.
type ingestResult struct {
	Engine     string
	Target     float64 // events/s
	Distinct   []ingestRun
	Duplicates ingestRun
	OpenRate   float64 // events/s offered in the open-loop run: half the target
	Open       ingestRun
	// HalfMeasuredRate is half the median distinct-event throughput, offered open loop.
	HalfMeasuredRate float64
	HalfMeasured     ingestRun
}

// appEvent is a distinct, correctly signed Etvas App event: product.suspended for a context the
// gateway has never seen. Applying it records the delivery in the inbox, creates the context's
// policy (SUSPENDED) and appends its policy event, all in one transaction committed before the
// 200 — a real effect, and no partner call (only product.purchased asks Etvas for a profile).
func appEvent(tag string, i int) []byte {
	return fmt.Appendf(nil, `{"name":"product.suspended","timestamp":%d,"payload":{"productId":"bench-product","contextId":"bench-%s-%d"}}`,
		time.Now().UnixMilli(), tag, i)
}

// webhookPoster posts signed Etvas App events and checks the answer's status.
type webhookPoster struct {
	client *http.Client
	url    string
}

func (w webhookPoster) post(ctx context.Context, body []byte, wantStatus string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(etvas.HeaderAPIKey, etvasbox.DefaultAPIKey)
	req.Header.Set(etvas.HeaderWebhookSignature, etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"status":"`+wantStatus+`"`)) {
		return fmt.Errorf("webhook: %d %s (want %s)", resp.StatusCode, answer, wantStatus)
	}
	return nil
}

// benchIngest measures webhook ingestion on one engine: distinct events at a fixed concurrency
// (throughput), the same events again (the duplicate path), then distinct events offered at
// half the target rate by an open-loop generator (latency under sustained load).
// serverDSN is the PostgreSQL server the gateway's sessions are measured on ("" on SQLite).
func benchIngest(ctx context.Context, env *env, engineName, dsn, serverDSN string, target float64, rep *report) error {
	dir := filepath.Join(env.work, "ingest-"+engineName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var extra []string
	var debugAddr string
	if env.ingestProfiles != "" {
		var err error
		if debugAddr, err = gatewayproc.FreePort(); err != nil {
			return err
		}
		extra = []string{"--debug-addr", debugAddr}
	}
	gw, err := gatewayproc.StartGateway(ctx, gatewayproc.Options{Binary: env.gateway, Database: dsn, LogDir: dir, Extra: extra})
	if err != nil {
		return err
	}
	defer env.stop(gw)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	poster := webhookPoster{client: client, url: "http://" + gw.HTTPAddr + "/etvas/events"}
	res := ingestResult{Engine: engineName, Target: target}
	distinct := func(tag string, n int) [][]byte {
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = appEvent(tag, i)
		}
		return bodies
	}
	warm := distinct("warm", env.events/5)
	if r := loadgen.Closed(ctx, env.ingestConcurrency, len(warm), func(ctx context.Context, i int) error {
		return poster.post(ctx, warm[i], "processed")
	}); r.Err() != nil {
		return fmt.Errorf("ingest %s warm-up: %w", engineName, r.Err())
	}
	meter, err := newCPUMeter(ctx, gw.PID(), serverDSN)
	if err != nil {
		return err
	}
	var first [][]byte
	for round := range env.runs {
		bodies := distinct(fmt.Sprintf("r%d", round), env.events)
		if round == 0 {
			first = bodies
		}
		gw0, db0 := meter.read()
		var profiled chan error
		if round == 0 && debugAddr != "" {
			profiled = make(chan error, 1)
			go func() { // waited for below
				profiled <- keepIngestProfile(ctx, env, "http://"+debugAddr, engineName)
			}()
		}
		r := loadgen.Closed(ctx, env.ingestConcurrency, len(bodies), func(ctx context.Context, i int) error {
			return poster.post(ctx, bodies[i], "processed")
		})
		if r.Err() != nil {
			return fmt.Errorf("ingest %s: %w", engineName, r.Err())
		}
		gw1, db1 := meter.read()
		if profiled != nil {
			if err := <-profiled; err != nil {
				return err
			}
		}
		n := time.Duration(len(bodies))
		run := ingestRun{Throughput: r.Throughput(), P50: r.Percentile(0.5), P99: r.Percentile(0.99),
			GatewayCPU: (gw1 - gw0) / n, DBCPU: (db1 - db0) / n}
		res.Distinct = append(res.Distinct, run)
		env.logf("ingest %-10s round %d distinct   %7.0f events/s p50 %-8s p99 %-8s CPU/event gateway %s, PostgreSQL %s",
			engineName, round+1, run.Throughput, run.P50, run.P99, run.GatewayCPU, run.DBCPU)
	}
	r := loadgen.Closed(ctx, env.ingestConcurrency, len(first), func(ctx context.Context, i int) error {
		return poster.post(ctx, first[i], "duplicate")
	})
	if r.Err() != nil {
		return fmt.Errorf("ingest %s duplicates: %w", engineName, r.Err())
	}
	res.Duplicates = ingestRun{Throughput: r.Throughput(), P50: r.Percentile(0.5), P99: r.Percentile(0.99)}
	env.logf("ingest %-10s duplicates        %7.0f events/s p50 %-8s p99 %s", engineName, res.Duplicates.Throughput, res.Duplicates.P50, res.Duplicates.P99)

	openLoop := func(tag string, rate float64) (ingestRun, error) {
		n := max(1, int(rate*env.openSeconds))
		bodies := distinct(tag, n)
		r := loadgen.Open(ctx, rate, n, 1024, func(ctx context.Context, i int) error {
			return poster.post(ctx, bodies[i], "processed")
		})
		if r.Err() != nil {
			return ingestRun{}, fmt.Errorf("ingest %s open loop at %.0f/s: %w", engineName, rate, r.Err())
		}
		run := ingestRun{Throughput: r.Throughput(), P50: r.Percentile(0.5), P99: r.Percentile(0.99)}
		env.logf("ingest %-10s open loop %5.0f/s  achieved %7.0f events/s p50 %-8s p99 %s", engineName, rate, run.Throughput, run.P50, run.P99)
		return run, nil
	}
	// The latency target is at half the target rate; when the machine cannot sustain
	// that, half the measured rate shows the latency of a gateway that is not overloaded.
	res.OpenRate = target / 2
	if res.Open, err = openLoop("open", res.OpenRate); err != nil {
		return err
	}
	var tps []float64
	for _, d := range res.Distinct {
		tps = append(tps, d.Throughput)
	}
	res.HalfMeasuredRate = median(tps) / 2
	if res.HalfMeasured, err = openLoop("half", res.HalfMeasuredRate); err != nil {
		return err
	}
	rep.ingest = append(rep.ingest, res)
	rep.notePeak(gw.PID())
	return nil
}

// ingestProfileSeconds is the length of the CPU profile taken during the first distinct round
// when -ingest-profiles is set (a round lasts a few seconds).
const ingestProfileSeconds = 2

// keepIngestProfile fetches a CPU profile of the gateway from its debug listener and writes it
// to env.ingestProfiles, for go tool pprof.
func keepIngestProfile(ctx context.Context, env *env, debugURL, engineName string) error {
	raw, err := fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, ingestProfileSeconds), time.Minute)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(env.ingestProfiles, 0o755); err != nil {
		return err
	}
	file := filepath.Join(env.ingestProfiles, "gateway-ingest-"+strings.ToLower(engineName)+".pprof")
	env.logf("ingest %-10s CPU profile of the gateway in %s", engineName, file)
	return os.WriteFile(file, raw, 0o644)
}

// freshPostgresSchema creates an empty schema and returns a DSN whose search_path points at it,
// and a function that drops it.
func freshPostgresSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres at %s: %w", base, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(dctx)
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", ingestApplicationName)
	u.RawQuery = q.Encode()
	return strings.Replace(u.String(), "postgresql://", "postgres://", 1), drop, nil
}
