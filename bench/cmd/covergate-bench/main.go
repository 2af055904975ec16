// Command covergate-bench measures Covergate's speed and footprint on this machine (issue 9):
// transport overhead (gRPC and REST against a bare net/http baseline), webhook ingestion on
// SQLite and PostgreSQL, outbox delivery to the Scalepoint sandbox, and start-up time and memory.
// Every server runs as its own process (bin/covergate serve, or this command's baseline
// subcommand) so its CPU time and memory are measured from /proc, apart from the load generator.
// It prints a table and writes docs/performance.md.
//
//	covergate-bench [flags]            run the suite
//	covergate-bench baseline [flags]   the baseline server (started by the suite)
//	covergate-bench peer -kind K ...   a peer server: grpc-gateway, grpc-gateway+mw, vanguard or
//	                                   bare-gRPC (started by the suite; see peers.go)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/covergate/covergate/bench/gatewayproc"
	"github.com/covergate/covergate/bench/procstat"
)

func main() {
	if len(os.Args) > 1 {
		sub := map[string]func([]string) error{"baseline": runBaseline, "peer": runPeer}[os.Args[1]]
		if sub != nil {
			if err := sub(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "covergate-bench:", err)
		os.Exit(1)
	}
}

// env is the suite's configuration and shared helpers.
type env struct {
	gateway, self, work, out, postgres string
	only                               map[string]bool
	runs, policies, requests           int
	concurrency                        int
	events, ingestConcurrency          int
	openSeconds                        float64
	publications, outboxRuns           int
	starts                             int
	settle                             time.Duration
	command                            string
	peers                              []string      // peer kinds in the transport benchmark
	profileFor                         time.Duration // CPU profile length per transport
	profiles                           string        // where raw CPU profiles are kept ("" = not kept)
	ingestProfiles                     string        // where CPU profiles of ingestion go ("" = none taken)
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// stop stops a server process, reporting (not hiding) an unclean exit.
func (e *env) stop(p *gatewayproc.Process) error {
	err := p.Stop()
	if err != nil {
		e.logf("warning: %v", err)
	}
	return err
}

func run(args []string) error {
	e := &env{}
	fs := flag.NewFlagSet("covergate-bench", flag.ContinueOnError)
	fs.StringVar(&e.gateway, "gateway", "bin/covergate", "the covergate binary to measure")
	fs.StringVar(&e.out, "out", "docs/performance.md", "where to write the report ('' = do not write)")
	fs.StringVar(&e.work, "work", "", "scratch directory for databases and server logs (default: a new temp dir, removed at the end)")
	fs.StringVar(&e.postgres, "postgres", defaultPostgresDSN(), "PostgreSQL server for the ingestion benchmark (a fresh schema is created and dropped)")
	only := fs.String("only", "transport,ingest,outbox,footprint", "benchmarks to run, comma-separated")
	engines := fs.String("ingest-engines", "sqlite,postgres", "engines of the ingestion benchmark, comma-separated")
	fs.IntVar(&e.runs, "runs", 3, "measured rounds per figure (the table shows the median)")
	fs.IntVar(&e.policies, "policies", 10000, "policies seeded for the transport benchmark")
	fs.IntVar(&e.requests, "requests", 20000, "GetPolicy requests per transport per round")
	fs.IntVar(&e.concurrency, "concurrency", 16, "concurrent callers in the transport benchmark")
	peers := fs.String("peers", strings.Join(peerKinds, ","), "peers measured next to Covergate in the transport benchmark, comma-separated ('' = none)")
	fs.StringVar(&e.profiles, "profiles", "", "directory to keep the gateway's raw CPU profiles in, for go tool pprof ('' = not kept)")
	fs.DurationVar(&e.profileFor, "profile", 5*time.Second, "length of the gateway CPU profiles taken under REST and gRPC load after the transport rounds (0 = none)")
	fs.IntVar(&e.events, "events", 5000, "distinct webhook events per round")
	fs.IntVar(&e.ingestConcurrency, "ingest-concurrency", 64, "concurrent webhook senders")
	fs.StringVar(&e.ingestProfiles, "ingest-profiles", "", "directory to write CPU profiles of the gateway taken during the first distinct ingestion round ('' = none; the gateway needs --debug-addr)")
	fs.Float64Var(&e.openSeconds, "open-seconds", 5, "length of the open-loop (fixed rate) webhook run")
	fs.IntVar(&e.publications, "publications", 10000, "publications queued for the outbox benchmark")
	fs.IntVar(&e.outboxRuns, "outbox-runs", 3, "outbox rounds")
	fs.IntVar(&e.starts, "starts", 5, "gateway starts for the footprint benchmark")
	fs.DurationVar(&e.settle, "settle", 3*time.Second, "idle time before the idle RSS is read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e.command = strings.Join(append([]string{"covergate-bench"}, args...), " ")
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !slices.Contains(peerKinds, p) {
				return fmt.Errorf("unknown peer %q (want one of %s)", p, strings.Join(peerKinds, ", "))
			}
			e.peers = append(e.peers, p)
		}
	}
	e.only = map[string]bool{}
	for _, name := range strings.Split(*only, ",") {
		e.only[strings.TrimSpace(name)] = true
	}
	var err error
	if e.self, err = os.Executable(); err != nil {
		return err
	}
	if e.gateway, err = filepath.Abs(e.gateway); err != nil {
		return err
	}
	if _, err := os.Stat(e.gateway); err != nil {
		return fmt.Errorf("gateway binary: %w (run make build)", err)
	}
	if e.work == "" {
		if e.work, err = os.MkdirTemp("", "covergate-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(e.work)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep := &report{started: time.Now(), env: e, loadStart: loadAverage(), revision: gitRevision()}
	steps := []struct {
		name string
		run  func() error
	}{
		{"transport", func() error { return benchTransport(ctx, e, rep) }},
		{"ingest", func() error {
			if strings.Contains(*engines, "sqlite") {
				if err := benchIngest(ctx, e, "SQLite", "sqlite:"+filepath.Join(e.work, "ingest.db"), "", 5000, rep); err != nil {
					return err
				}
			}
			if !strings.Contains(*engines, "postgres") {
				return nil
			}
			dsn, drop, err := freshPostgresSchema(ctx, e.postgres)
			if err != nil {
				return err
			}
			defer drop()
			return benchIngest(ctx, e, "PostgreSQL", dsn, e.postgres, 3000, rep)
		}},
		{"outbox", func() error { return benchOutbox(ctx, e, rep) }},
		{"footprint", func() error { return benchFootprint(ctx, e, rep) }},
	}
	var errs []error
	for _, s := range steps {
		if !e.only[s.name] {
			continue
		}
		e.logf("== %s", s.name)
		if err := s.run(); err != nil {
			// Keep going: the other benchmarks' figures are still worth reporting.
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			rep.failures = append(rep.failures, fmt.Sprintf("%s: %v", s.name, err))
			e.logf("%s failed: %v", s.name, err)
		}
	}
	rep.finished = time.Now()
	table := rep.table()
	fmt.Println(table.text())
	if e.out != "" {
		if err := os.WriteFile(e.out, []byte(rep.markdown(table)), 0o644); err != nil {
			errs = append(errs, err)
		} else {
			e.logf("wrote %s", e.out)
		}
	}
	return errors.Join(errs...)
}

// loadAverage is the 1, 5 and 15 minute load average.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	out := strings.Join(f[:3], " ")
	// CPU pressure (PSI): the share of the last minute in which some runnable task waited for
	// a CPU, i.e. how much other work competed with the benchmark.
	if raw, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		for _, field := range strings.Fields(strings.SplitN(string(raw), "\n", 2)[0]) {
			if v, ok := strings.CutPrefix(field, "avg60="); ok {
				out += ", CPU pressure (some, avg60) " + v + " %"
			}
		}
	}
	return out
}

// median of xs (the upper middle for an even count).
func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// notePeak records a server's peak resident memory (VmHWM) before it is stopped.
func (r *report) notePeak(pid int) {
	if m, err := procstat.Mem(pid); err == nil && m.Peak > r.peakRSS {
		r.peakRSS = m.Peak
	}
}

// defaultPostgresDSN is the server the tests use too (COVERGATE_TEST_POSTGRES_DSN, else the local
// CI server). It is spelled out here rather than imported from pgtest, which needs package
// testing: production and benchmark binaries carry no test code.
func defaultPostgresDSN() string {
	if v := os.Getenv("COVERGATE_TEST_POSTGRES_DSN"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}
