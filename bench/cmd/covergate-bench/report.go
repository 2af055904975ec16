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
		med := func(way string) (tp float64, p50, p99, cpu time.Duration) {
			var tps []float64
			var p50s, p99s, cpus []time.Duration
			for _, x := range r.transport[way] {
				tps, p50s, p99s, cpus = append(tps, x.Throughput), append(p50s, x.P50), append(p99s, x.P99), append(cpus, x.CPUPerReq)
			}
			return median(tps), median(p50s), median(p99s), median(cpus)
		}
		// The ratio target compares runs side by side: the median of per-round ratios.
		ratio := func(way string) float64 {
			var rs []float64
			for i, x := range r.transport[way] {
				if i < len(r.transport["baseline"]) && r.transport["baseline"][i].Throughput > 0 {
					rs = append(rs, x.Throughput/r.transport["baseline"][i].Throughput)
				}
			}
			return median(rs)
		}
		for _, way := range []string{"baseline", "REST", "gRPC"} {
			tp, p50, p99, cpu := med(way)
			t = append(t, row{fmt.Sprintf("GetPolicy %s: throughput @%d / p50 / p99 / server CPU per request", way, r.env.concurrency),
				fmt.Sprintf("%.0f req/s / %s / %s / %.0f µs", tp, ms(p50), ms(p99), float64(cpu)/float64(time.Microsecond)), "", ""})
		}
		rest, grpc := ratio("REST"), ratio("gRPC")
		t = append(t,
			row{"REST throughput ÷ baseline", fmt.Sprintf("%.0f %%", rest*100), "≥ 90 %", verdict(rest >= 0.9)},
			row{"gRPC throughput ÷ baseline", fmt.Sprintf("%.0f %%", grpc*100), "≥ 100 %", verdict(grpc >= 1)})
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
	p("Written by `make bench` (`%s`) on %s, in %s. Medians of %d rounds unless noted; the ratios compare rounds run side by side.",
		r.env.command, r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second), r.env.runs)
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
	p("make bench          # builds bin/covergate and bin/covergate-bench, runs everything (~2-4 min), writes this file")
	p("make bench-micro    # the go test -bench micro-benchmarks of the packages")
	p("bin/covergate-bench -help   # rounds, sizes, concurrency, -only transport,ingest,outbox,footprint")
	p("```")
	p("")
	p("PostgreSQL must be reachable (`-postgres`, default `%s` or `COVERGATE_TEST_POSTGRES_DSN`); a fresh schema is created and dropped.", "postgres://postgres@127.0.0.1:5432/test")
	p("Every server is a separate process: `bin/covergate serve` (SQLite or PostgreSQL, embedded partner sandbox, JSON logs at the default `info` level, i.e. one `http` and one `rpc` line per request, as in production) and the baseline (`covergate-bench baseline`). The load generator (`bench/loadgen`) runs in the benchmark process with real clients (net/http, grpc-go) on the same two cores, so it competes with the server for CPU: absolute figures are lower than on a dedicated client machine, ratios are what to compare.")
	p("")
	p("## Machine")
	p("")
	p("- load average when the suite started: %s (other engineers' builds and tests share these cores)", r.loadStart)
	for _, f := range machineFacts() {
		p("- %s", f)
	}
	r.details(p)
	p("")
	p("## Where the time goes, and what was changed")
	p("")
	for _, n := range notes {
		p("- %s", n)
	}
	return b.String()
}

// notes explain the figures; they come from CPU profiles taken on this machine
// (go test -bench . -cpuprofile in bench/profiling).
var notes = []string{
	"**REST through the gateway.** The gateway used to reach the gRPC server over an in-memory HTTP/2 socket (bufconn): every REST call was encoded to protobuf, framed, decoded, and crossed two goroutine hand-offs and two OpenTelemetry stats handlers. Unary calls now go through `server/inprocess`: the same interceptor chain (the same instances: request id, logging, metrics, recovery, auth, webhook guard, validation, idempotency) and the service handler run directly in the HTTP request's goroutine, with the caller's metadata as incoming metadata, an in-process peer (metrics still say `transport=\"http\"`), `grpc.SetHeader`/`SetTrailer` and status errors carried over; streams (WatchEvents) still use the socket. In development runs that took REST from about 42 % to about 62 % of the baseline's throughput and from ~200 to ~130 µs of server CPU per request. The rest of the gap is work the baseline does not do: two JSON log lines per request, auth (SHA-256 of the key), protovalidate, Prometheus metrics, the OpenTelemetry HTTP span, the HTTP middleware (request id, body limit, content type) and grpc-gateway's routing and marshalling. Dropping any of it would trade away a product guarantee, so the 90 % target is not met on this machine.",
	"**gRPC.** gRPC serves the same read with the full interceptor chain and logging, and is within ~10-20 % of the bare handler; the baseline does neither auth nor logging, so ≥ 100 % is not reachable without removing them. Both are dominated by the store: the SQLite driver (modernc, pure Go) parses every SQL statement again on every query (~40 % of a GetPolicy's store time).",
	"**Webhook ingestion.** Each delivery needs its own transaction (inbox row + effect + event) and SQLite `synchronous=FULL` / PostgreSQL fsync per commit: one transaction per delivery reached ~700-1,000/s. Group commit (`webhook.GroupCommit`, used by the webhook services): concurrent deliveries run one after another in one transaction, each in its own savepoint, and share the commit; the 2xx still follows the commit; a delivery that fails is rolled back to its savepoint alone and run again in its own transaction (so it gets exactly the answer it would have had), and a batch that cannot commit is rerun one delivery per transaction. The batch is whatever queued during the previous commit (≤ 128), so there is no added wait at low load. SQLite's savepoint journals are kept in memory (`temp_store=MEMORY`), which removed temp-file writes per savepoint. In development runs on this machine (same harness, one round each) ingestion went from 740-1,260/s to 1,600-4,700/s on SQLite and from ~1,000/s to 1,300-2,200/s on PostgreSQL, the spread being the other work on the machine. What is left is CPU: the committer executes every delivery's SQL on one goroutine (one core; statement parsing is ~30 % of it), while HTTP, signature verification, gRPC-gateway and logging use the other core together with the load generator; the duplicate path (the same HTTP, verification and logging work, nothing written) runs about twice as fast.",
	"**Outbox.** With one delivery in flight (kept for per-replica ordering), each publication was one HTTP publish plus one transaction (one fsync) for its outcome. Outcomes are now recorded by a recorder that commits whatever accumulated while the next publication is being sent, in one transaction, so fsyncs overlap the publishing and are shared. In development runs this took 10,000 deliveries from ~1,300-1,900/s to ~4,400/s. Sending order and at-least-once delivery are unchanged; the window of 'published but not yet recorded' after a crash is the recorder's current batch instead of one publication, and such publications are re-sent with the same correlationId after their lease expires, as before. One OAuth2 token serves the whole run (token lifetime 1 h).",
	"**Footprint.** Start-up (exec → `/readyz` 200) includes opening SQLite, migrations on a new database, building the gRPC and HTTP servers and starting the three embedded sandboxes.",
}

func (r *report) details(p func(string, ...any)) {
	if len(r.transport) > 0 {
		p("")
		p("## 1. Transport overhead: every round")
		p("")
		p("GetPolicy on a SQLite store seeded with %d policies, %d requests per way per round at %d concurrent callers (closed loop, keep-alive HTTP/1.1 connections; one HTTP/2 connection for gRPC), after a warm-up. Server CPU is the serving process's utime+stime from /proc/PID/stat over the round, divided by the requests.",
			r.env.policies, r.env.requests, r.env.concurrency)
		p("")
		p("| round | way | req/s | p50 | p99 | server CPU/request |")
		p("|---|---|---|---|---|---|")
		for i := range r.env.runs {
			for _, way := range []string{"baseline", "REST", "gRPC"} {
				if i < len(r.transport[way]) {
					x := r.transport[way][i]
					p("| %d | %s | %.0f | %s | %s | %.0f µs |", i+1, way, x.Throughput, ms(x.P50), ms(x.P99), float64(x.CPUPerReq)/float64(time.Microsecond))
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
		p("| engine | run | events/s | p50 | p99 |")
		p("|---|---|---|---|---|")
		for _, in := range r.ingest {
			for i, x := range in.Distinct {
				p("| %s | distinct, round %d | %.0f | %s | %s |", in.Engine, i+1, x.Throughput, ms(x.P50), ms(x.P99))
			}
			p("| %s | duplicates | %.0f | %s | %s |", in.Engine, in.Duplicates.Throughput, ms(in.Duplicates.P50), ms(in.Duplicates.P99))
			p("| %s | open loop at %.0f/s (half the target) | %.0f | %s | %s |", in.Engine, in.OpenRate, in.Open.Throughput, ms(in.Open.P50), ms(in.Open.P99))
			p("| %s | open loop at %.0f/s (half the measured rate) | %.0f | %s | %s |", in.Engine, in.HalfMeasuredRate, in.HalfMeasured.Throughput, ms(in.HalfMeasured.P50), ms(in.HalfMeasured.P99))
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
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		facts = append(facts, "revision: "+strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version").Output(); err == nil {
		facts = append(facts, "PostgreSQL "+strings.TrimSpace(string(out))+" on the same machine")
	}
	return facts
}
