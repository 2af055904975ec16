package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report collects the figures of one suite run.
type report struct {
	env               *env
	started, finished time.Time
	transport         map[string][]transportRun
	ingest            []ingestResult
	outbox            []outboxRun
	footprint         []footprintRun
	peakRSS           int64
	failures          []string
	loadStart         string // /proc/loadavg when the suite started: other work on the machine
	revision          string // git revision measured ("-dirty" when the tree had changes)
	transportWays     []transportWay
	profiles          []cpuProfile
}

// transportWay names a measured way in the order it ran; rest tells REST from gRPC.
type transportWay struct {
	name string
	rest bool
}

// medians of one way's rounds.
func (r *report) medians(way string) (tp float64, p50, p99, cpu time.Duration) {
	var tps []float64
	var p50s, p99s, cpus []time.Duration
	for _, x := range r.transport[way] {
		tps, p50s, p99s, cpus = append(tps, x.Throughput), append(p50s, x.P50), append(p99s, x.P99), append(cpus, x.CPUPerReq)
	}
	return median(tps), median(p50s), median(p99s), median(cpus)
}

// ratio compares ways a and b side by side: the median of the per-round ratios of f (0 when
// either way has no rounds).
func (r *report) ratio(a, b string, f func(transportRun) float64) float64 {
	var rs []float64
	for i, x := range r.transport[a] {
		if i < len(r.transport[b]) && f(r.transport[b][i]) > 0 {
			rs = append(rs, f(x)/f(r.transport[b][i]))
		}
	}
	return median(rs)
}

func throughput(x transportRun) float64 { return x.Throughput }
func cpuPerReq(x transportRun) float64  { return float64(x.CPUPerReq) }

// transportRows are the transport figures and the issue-17 targets: Covergate against the
// baseline handler and against each peer, round by round.
func (r *report) transportRows() summary {
	var t summary
	for _, w := range r.transportWays {
		tp, p50, p99, cpu := r.medians(w.name)
		name := w.name
		if w.name == wayREST || w.name == wayGRPC {
			name = "Covergate " + w.name
		}
		t = append(t, row{fmt.Sprintf("GetPolicy %s: throughput @%d / p50 / p99 / server CPU per request", name, r.env.concurrency),
			fmt.Sprintf("%.0f req/s / %s / %s / %.0f µs", tp, ms(p50), ms(p99), float64(cpu)/float64(time.Microsecond)), "", ""})
	}
	pct := func(x float64) string { return fmt.Sprintf("%.0f %%", x*100) }
	rest, grpc := r.ratio(wayREST, wayBaseline, throughput), r.ratio(wayGRPC, wayBaseline, throughput)
	cpu := r.ratio(wayREST, wayBaseline, cpuPerReq)
	t = append(t,
		row{"Covergate REST throughput ÷ baseline", pct(rest), "≥ 80 %", verdict(rest >= 0.8)},
		row{"Covergate gRPC throughput ÷ baseline", pct(grpc), "≥ 95 %", verdict(grpc >= 0.95)},
		row{"Covergate REST server CPU per request ÷ baseline's", fmt.Sprintf("%.2f ×", cpu), "≤ 1.3 ×", verdict(cpu > 0 && cpu <= 1.3)})
	for _, w := range r.transportWays {
		if _, ok := r.transport[w.name]; !ok || w.name == wayBaseline || w.name == wayREST || w.name == wayGRPC {
			continue
		}
		if w.rest {
			x := r.ratio(wayREST, w.name, throughput)
			t = append(t, row{"Covergate REST throughput ÷ " + w.name + " (REST)", pct(x), "> 100 %", verdict(x > 1)})
		} else {
			x := r.ratio(wayGRPC, w.name, throughput)
			t = append(t, row{"Covergate gRPC throughput ÷ " + w.name, pct(x), "≥ 90 %", verdict(x >= 0.9)})
		}
	}
	return t
}

// row is one line of the summary table.
type row struct{ metric, figure, target, met string }

type summary []row

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// table is the summary: medians of the rounds next to the targets.
func (r *report) table() summary {
	var t summary
	if len(r.transport) > 0 {
		t = append(t, r.transportRows()...)
	}
	for _, in := range r.ingest {
		var tps []float64
		var p99s []time.Duration
		for _, x := range in.Distinct {
			tps, p99s = append(tps, x.Throughput), append(p99s, x.P99)
		}
		tp := median(tps)
		t = append(t,
			row{fmt.Sprintf("webhook ingestion %s, distinct events @%d senders (p99)", in.Engine, r.env.ingestConcurrency),
				fmt.Sprintf("%.0f events/s (p99 %s)", tp, ms(median(p99s))), fmt.Sprintf("≥ %.0f events/s", in.Target), verdict(tp >= in.Target)},
			row{fmt.Sprintf("webhook ingestion %s, p99 at %.0f events/s offered (open loop)", in.Engine, in.OpenRate),
				fmt.Sprintf("%s (achieved %.0f/s)", ms(in.Open.P99), in.Open.Throughput), "< 25 ms", verdict(in.Open.P99 < 25*time.Millisecond && in.Open.Throughput >= 0.95*in.OpenRate)},
			row{fmt.Sprintf("webhook ingestion %s, p99 at %.0f events/s offered (half the measured rate)", in.Engine, in.HalfMeasuredRate),
				fmt.Sprintf("%s (achieved %.0f/s)", ms(in.HalfMeasured.P99), in.HalfMeasured.Throughput), "(< 25 ms)", verdict(in.HalfMeasured.P99 < 25*time.Millisecond)},
			row{fmt.Sprintf("webhook duplicates %s (p99)", in.Engine),
				fmt.Sprintf("%.0f events/s (p99 %s)", in.Duplicates.Throughput, ms(in.Duplicates.P99)), "", ""})
	}
	if len(r.outbox) > 0 {
		var tps []float64
		tokens := 0
		for _, x := range r.outbox {
			tps = append(tps, x.Throughput)
			tokens = max(tokens, x.TokenRequests)
		}
		tp := median(tps)
		t = append(t,
			row{fmt.Sprintf("outbox: %d publications to sandbox Scalepoint", r.env.publications), fmt.Sprintf("%.0f deliveries/s", tp), "≥ 2000/s", verdict(tp >= 2000)},
			row{"outbox: token requests per run (token lifetime 1 h)", fmt.Sprint(tokens), "1", verdict(tokens == 1)})
	}
	if len(r.footprint) > 0 {
		var cold, warm []time.Duration
		var idle []int64
		for _, x := range r.footprint {
			cold, warm, idle = append(cold, x.ColdReady), append(warm, x.WarmReady), append(idle, x.IdleRSS)
		}
		t = append(t,
			row{"start → ready, new SQLite database (migrations included)", ms(median(cold)), "< 300 ms", verdict(median(cold) < 300*time.Millisecond)},
			row{"start → ready, existing SQLite database", ms(median(warm)), "< 300 ms", verdict(median(warm) < 300*time.Millisecond)},
			row{"RSS idle", fmt.Sprintf("%.1f MB", mb(median(idle))), "< 60 MB", verdict(mb(median(idle)) < 60)})
	}
	if r.peakRSS > 0 {
		t = append(t, row{"RSS peak (VmHWM, highest gateway of the load benchmarks)", fmt.Sprintf("%.1f MB", mb(r.peakRSS)), "< 250 MB", verdict(mb(r.peakRSS) < 250)})
	}
	return t
}

func (t summary) text() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "METRIC\tFIGURE\tTARGET\tMET")
	for _, x := range t {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", x.metric, x.figure, x.target, strings.Trim(x.met, "*"))
	}
	w.Flush()
	return b.String()
}

func (r *report) markdown(t summary) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Performance")
	p("")
	p("Written by `make bench` (`%s`) on %s, in %s, measuring revision `%s`. Medians of %d rounds unless noted; the ratios compare rounds run side by side.",
		r.env.command, r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second), r.revision, r.env.runs)
	p("Numbers on a 2-core machine shared with other work are noisy: compare ratios within one run, not figures across runs.")
	p("")
	p("| metric | figure | target | met? |")
	p("|---|---|---|---|")
	for _, x := range t {
		p("| %s | %s | %s | %s |", x.metric, x.figure, x.target, x.met)
	}
	if len(r.failures) > 0 {
		p("")
		p("**Benchmarks that failed in this run:**")
		for _, f := range r.failures {
			p("- %s", f)
		}
	}
	p("")
	p("## How to run")
	p("")
	p("```sh")
	p("make bench          # builds bin/covergate and bin/covergate-bench, runs everything (~4 min), writes this file; raw CPU profiles in bin/profiles/")
	p("make bench-micro    # the go test -bench micro-benchmarks of the packages")
	p("bin/covergate-bench -help   # rounds, sizes, concurrency, -only transport,ingest,outbox,footprint, -peers, -profile")
	p("```")
	p("")
	p("PostgreSQL must be reachable (`-postgres`, default `%s` or `COVERGATE_TEST_POSTGRES_DSN`); a fresh schema is created and dropped.", "postgres://postgres@127.0.0.1:5432/test")
	p("Every server is a separate process: `bin/covergate serve` (SQLite or PostgreSQL, embedded partner sandbox, JSON logs at the default `info` level, i.e. one line per request — the `http` line carrying the RPC's outcome for REST, an `rpc` line for gRPC — as in production), the baseline (`covergate-bench baseline`) and the peers (`covergate-bench peer -kind …`). The load generator (`bench/loadgen`) runs in the benchmark process with real clients (net/http, grpc-go) on the same two cores, so it competes with the server for CPU: absolute figures are lower than on a dedicated client machine, ratios are what to compare.")
	p("")
	p("## Machine")
	p("")
	p("- load average when the suite started: %s (other engineers' builds and tests share these cores)", r.loadStart)
	for _, f := range machineFacts() {
		p("- %s", f)
	}
	r.details(p)
	r.profileDetails(p)
	p("")
	p("Explanations of past changes and their measured effect are dated notes in README.md (Performance); this file holds only what this run measured.")
	return b.String()
}

// profileDetails writes where the gateway's CPU time went under REST and gRPC load.
func (r *report) profileDetails(p func(string, ...any)) {
	if len(r.profiles) == 0 {
		return
	}
	p("")
	p("## Where the time goes (CPU profiles of the gateway)")
	p("")
	p("After the measured rounds, the gateway's CPU was profiled (net/http/pprof on its `--debug-addr` loopback listener) for %s under each load at %d concurrent callers. Shares are of the CPU time sampled in the gateway process; flat is a function's own time, cumulative includes what it calls (as `go tool pprof -top` and `-top -cum`).", r.env.profileFor, r.env.concurrency)
	for _, prof := range r.profiles {
		per := time.Duration(0)
		if prof.Requests > 0 {
			per = prof.Total / time.Duration(prof.Requests)
		}
		p("")
		p("### Under %s load: %s CPU sampled over %d requests (%.0f µs per request)", prof.Way, prof.Total.Round(time.Millisecond), prof.Requests, float64(per)/float64(time.Microsecond))
		if prof.File != "" {
			p("")
			p("Raw profile: `%s` (`go tool pprof -top %s`).", prof.File, prof.File)
		}
		p("")
		p("| # | package (flat) | share | function (flat) | share | function (cumulative) | share |")
		p("|---|---|---|---|---|---|---|")
		pct := func(d time.Duration) string {
			if prof.Total <= 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f %%", 100*float64(d)/float64(prof.Total))
		}
		cell := func(xs []share, i int) (string, string) {
			if i >= len(xs) {
				return "", ""
			}
			return "`" + xs[i].Name + "`", pct(xs[i].CPU)
		}
		for i := range profileTop {
			pk, pks := cell(prof.Packages, i)
			fl, fls := cell(prof.Flat, i)
			cu, cus := cell(prof.Cum, i)
			if pk == "" && fl == "" && cu == "" {
				break
			}
			p("| %d | %s | %s | %s | %s | %s | %s |", i+1, pk, pks, fl, fls, cu, cus)
		}
	}
}

func (r *report) details(p func(string, ...any)) {
	if len(r.transport) > 0 {
		p("")
		p("## 1. Transport overhead: every round")
		p("")
		p("GetPolicy on a SQLite store seeded with %d policies, %d requests per way per round at %d concurrent callers (closed loop, keep-alive HTTP/1.1 connections; one HTTP/2 connection for gRPC), after a warm-up. Server CPU is the serving process's utime+stime from /proc/PID/stat over the round, divided by the requests.",
			r.env.policies, r.env.requests, r.env.concurrency)
		p("")
		p("The ways: **baseline** is a bare net/http handler calling the same PolicyService code (`covergate-bench baseline`: no gRPC, no auth, no logs — the practical limit); **REST** and **gRPC** are `covergate serve` with every product guarantee on (API-key auth, protovalidate, request ids, JSON logs at `info`, Prometheus metrics, an OpenTelemetry trace context on every call — its ids in every log line and error — with spans recorded only when an OTLP exporter is configured, which it is not here, idempotency); the peers are separate `covergate-bench peer` processes serving the same PolicyService implementation on the same database: **%s** (a gRPC server with no interceptors, grpc-gateway's `RegisterPolicyServiceHandlerFromEndpoint` dialing it over loopback), **%s** (the same with the go-grpc-middleware v2 stack: Prometheus, slog logging of every call, recovery, bearer-token auth, protovalidate), **%s** (connectrpc.com/vanguard transcoding REST to the bare gRPC server in process) and **%s** (`grpc.NewServer()` with the service, nothing else).",
			peerGateway, peerGatewayMW, peerVanguard, peerGRPC)
		p("")
		p("| round | way | req/s | p50 | p99 | server CPU/request |")
		p("|---|---|---|---|---|---|")
		for i := range r.env.runs {
			for _, w := range r.transportWays {
				if i < len(r.transport[w.name]) {
					x := r.transport[w.name][i]
					p("| %d | %s | %.0f | %s | %s | %.0f µs |", i+1, w.name, x.Throughput, ms(x.P50), ms(x.P99), float64(x.CPUPerReq)/float64(time.Microsecond))
				}
			}
		}
	}
	if len(r.ingest) > 0 {
		p("")
		p("## 2. Webhook ingestion: every round")
		p("")
		p("Each event is a distinct, correctly signed Etvas App `product.suspended` for a context the gateway has not seen, POSTed to `/etvas/events`: the gateway verifies the API key and HMAC over the raw body, then in one transaction records the inbox delivery, creates the context's policy (SUSPENDED) and appends its `policy.created` and `policy.suspended` events, commits durably (SQLite `synchronous=FULL`; PostgreSQL default `synchronous_commit=on`) and only then answers 200 `processed` — every answer is checked. Duplicates are the first round's bodies sent again (answer `duplicate`, no second effect). The open-loop runs offer events on a fixed schedule (half the target rate, then half the rate measured above) and measure each event from its scheduled start, so a server that falls behind shows it as latency.")
		p("")
		p("CPU per event (distinct rounds) is the gateway's utime+stime from /proc/PID/stat over the round, and on PostgreSQL that of the server processes of the gateway's sessions (found by application_name), divided by the events: steadier than throughput on a shared machine.")
		p("")
		p("| engine | run | events/s | p50 | p99 | gateway CPU/event | PostgreSQL CPU/event |")
		p("|---|---|---|---|---|---|---|")
		for _, in := range r.ingest {
			for i, x := range in.Distinct {
				p("| %s | distinct, round %d | %.0f | %s | %s | %s | %s |", in.Engine, i+1, x.Throughput, ms(x.P50), ms(x.P99), x.GatewayCPU, x.DBCPU)
			}
			p("| %s | duplicates | %.0f | %s | %s | | |", in.Engine, in.Duplicates.Throughput, ms(in.Duplicates.P50), ms(in.Duplicates.P99))
			p("| %s | open loop at %.0f/s (half the target) | %.0f | %s | %s | | |", in.Engine, in.OpenRate, in.Open.Throughput, ms(in.Open.P50), ms(in.Open.P99))
			p("| %s | open loop at %.0f/s (half the measured rate) | %.0f | %s | %s | | |", in.Engine, in.HalfMeasuredRate, in.HalfMeasured.Throughput, ms(in.HalfMeasured.P50), ms(in.HalfMeasured.P99))
		}
	}
	if len(r.outbox) > 0 {
		p("")
		p("## 3. Outbox delivery: every round")
		p("")
		p("%d `case_created` publications are queued through the store before the gateway starts; the time runs from the gateway's first `/readyz` 200 until the store counts all of them DELIVERED (the gateway's own outbox worker with its production settings publishes them to the embedded Scalepoint sandbox over HTTP, OAuth2 client credentials). Token requests are the sandbox's count of `/connect/token` calls.", r.env.publications)
		p("")
		p("| round | delivered | time | deliveries/s | token requests |")
		p("|---|---|---|---|---|")
		for i, x := range r.outbox {
			p("| %d | %d | %s | %.0f | %d |", i+1, x.Publications, x.Elapsed.Round(time.Millisecond), x.Throughput, x.TokenRequests)
		}
	}
	if len(r.footprint) > 0 {
		p("")
		p("## 4. Footprint: every start")
		p("")
		p("`covergate serve` (SQLite, embedded partner sandbox, JSON logs) as a child process; ready is the first 200 from `/readyz`, polled every 2 ms from exec. Idle RSS is VmRSS after %s idle. Peak RSS is the highest VmHWM of the gateways that served the load benchmarks above.", r.env.settle)
		p("")
		p("| start | ready (new db) | ready (existing db) | idle RSS |")
		p("|---|---|---|---|")
		for i, x := range r.footprint {
			p("| %d | %s | %s | %.1f MB |", i+1, ms(x.ColdReady), ms(x.WarmReady), mb(x.IdleRSS))
		}
	}
}

// gitRevision is HEAD's commit, with "-dirty" when the work tree has uncommitted changes (the
// binaries measured were built from it), or "unknown" outside a git checkout.
func gitRevision() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(strings.TrimSpace(string(st))) > 0 {
		rev += "-dirty"
	}
	return rev
}

func machineFacts() []string {
	facts := []string{fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				facts = append(facts, "CPU: "+strings.TrimSpace(v))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		facts = append(facts, "memory: "+strings.Join(strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])[1:], " "))
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		facts = append(facts, "kernel: "+strings.TrimSpace(string(raw)))
	}
	facts = append(facts, "load average at the end: "+loadAverage())
	if out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version").Output(); err == nil {
		facts = append(facts, "PostgreSQL "+strings.TrimSpace(string(out))+" on the same machine")
	}
	return facts
}
