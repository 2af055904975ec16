package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/covergate/covergate/bench/gatewayproc"
	"github.com/covergate/covergate/bench/loadgen"
	"github.com/covergate/covergate/bench/procstat"
	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// transportRun is one measured pass of one transport.
type transportRun struct {
	Throughput float64
	P50, P99   time.Duration
	CPUPerReq  time.Duration
}

// seedPolicies creates n ACTIVE Etvas policies through the store (migrating a fresh database)
// and returns their ids.
func seedPolicies(ctx context.Context, dsn string, n int) ([]string, error) {
	st, err := engine.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("seed: open store: %w", err)
	}
	defer st.Close()
	ids := make([]string, 0, n)
	now := time.Now().UTC()
	const perTx = 500
	for start := 0; start < n; start += perTx {
		err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			ids = ids[:start]
			for i := start; i < min(n, start+perTx); i++ {
				p, err := tx.CreatePolicy(ctx, domain.Policy{
					Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, ProductName: "Bench cover",
					Status: domain.PolicyActive, Premium: domain.Money{Amount: "12.50", Currency: "EUR"},
					EtvasContextID: fmt.Sprintf("seed-ctx-%d", i), EtvasProductID: "bench-product",
					StartTime: now, EndTime: now.AddDate(1, 0, 0), StatusTime: now,
				})
				if err != nil {
					return fmt.Errorf("seed: create policy %d: %w", i, err)
				}
				ids = append(ids, p.ID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Way names of the transport benchmark besides the peers (peers.go).
const (
	wayBaseline = "baseline"
	wayREST     = "REST"
	wayGRPC     = "gRPC"
)

// way is one server and protocol the transport benchmark measures.
type way struct {
	name string
	pid  int
	call loadgen.Call
	rest bool // REST (compared with the baseline and the REST peers) or gRPC
}

// benchTransport measures GetPolicy on every way — the baseline handler, Covergate REST and
// gRPC, and each peer — interleaved round by round, so that machine noise hits all alike. Then
// it takes CPU profiles of the gateway under REST and under gRPC load.
func benchTransport(ctx context.Context, env *env, rep *report) error {
	dir := filepath.Join(env.work, "transport")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dsn := "sqlite:" + filepath.Join(dir, "covergate.db")
	env.logf("transport: seeding %d policies", env.policies)
	ids, err := seedPolicies(ctx, dsn, env.policies)
	if err != nil {
		return err
	}
	var debugAddr string
	var extra []string
	if env.profileFor > 0 {
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
	baseAddr, err := gatewayproc.FreePort()
	if err != nil {
		return err
	}
	base, err := gatewayproc.Start(env.self, []string{"baseline", "--database", dsn, "--addr", baseAddr}, dir)
	if err != nil {
		return err
	}
	defer env.stop(base)
	if err := base.WaitReady(ctx, "http://"+baseAddr+"/readyz", 30*time.Second); err != nil {
		return err
	}
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: env.concurrency, MaxConnsPerHost: env.concurrency}}
	defer httpClient.CloseIdleConnections()
	authMD := metadata.Pairs("authorization", "Bearer "+gatewayproc.APIKey)
	getJSON := func(url string) error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		// Every REST way gets the same request, the key included (only some check it).
		req.Header.Set("Authorization", "Bearer "+gatewayproc.APIKey)
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
		}
		return nil
	}
	restWay := func(name string, pid int, addr string) way {
		return way{name: name, pid: pid, rest: true, call: func(_ context.Context, i int) error {
			return getJSON("http://" + addr + "/v1/policies/" + ids[i%len(ids)])
		}}
	}
	grpcWay := func(name string, pid int, addr string) (way, error) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return way{}, fmt.Errorf("transport: dial gRPC %s: %w", name, err)
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		policies := insurancev1.NewPolicyServiceClient(conn)
		return way{name: name, pid: pid, call: func(ctx context.Context, i int) error {
			_, err := policies.GetPolicy(metadata.NewOutgoingContext(ctx, authMD), &insurancev1.GetPolicyRequest{PolicyId: ids[i%len(ids)]})
			return err
		}}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // closes the gRPC client connections
	ways := []way{restWay(wayBaseline, base.PID(), baseAddr), restWay(wayREST, gw.PID(), gw.HTTPAddr)}
	covergateGRPC, err := grpcWay(wayGRPC, gw.PID(), gw.GRPCAddr)
	if err != nil {
		return err
	}
	var grpcWays []way
	grpcWays = append(grpcWays, covergateGRPC)
	for _, kind := range env.peers {
		addrs := make([]string, 2)
		for i := range addrs {
			if addrs[i], err = gatewayproc.FreePort(); err != nil {
				return err
			}
		}
		p, err := gatewayproc.Start(env.self, []string{"peer", "-kind", kind, "-database", dsn, "-grpc-addr", addrs[0], "-http-addr", addrs[1]}, dir)
		if err != nil {
			return err
		}
		defer env.stop(p)
		if err := p.WaitReady(ctx, "http://"+addrs[1]+"/readyz", 30*time.Second); err != nil {
			return err
		}
		if kind == peerGRPC {
			w, err := grpcWay(kind, p.PID(), addrs[0])
			if err != nil {
				return err
			}
			grpcWays = append(grpcWays, w)
			continue
		}
		ways = append(ways, restWay(kind, p.PID(), addrs[1]))
	}
	ways = append(ways, grpcWays...)
	runs := map[string][]transportRun{}
	for _, w := range ways {
		// Warm-up: connections, allocation pools and the SQLite page cache.
		if res := loadgen.Closed(ctx, env.concurrency, env.requests/5, w.call); res.Err() != nil {
			return fmt.Errorf("transport %s warm-up: %w", w.name, res.Err())
		}
	}
	for round := range env.runs {
		for _, w := range ways {
			cpu0, err := procstat.CPU(w.pid)
			if err != nil {
				return err
			}
			// Each round reads a different slice of the policies.
			offset := round * env.requests
			res := loadgen.Closed(ctx, env.concurrency, env.requests, func(ctx context.Context, i int) error { return w.call(ctx, offset+i) })
			cpu1, err := procstat.CPU(w.pid)
			if err != nil {
				return err
			}
			if res.Err() != nil {
				return fmt.Errorf("transport %s: %w", w.name, res.Err())
			}
			r := transportRun{Throughput: res.Throughput(), P50: res.Percentile(0.5), P99: res.Percentile(0.99),
				CPUPerReq: (cpu1 - cpu0) / time.Duration(res.Requests)}
			runs[w.name] = append(runs[w.name], r)
			env.logf("transport round %d %-16s %8.0f req/s  p50 %-8s p99 %-8s cpu/req %s", round+1, w.name, r.Throughput, r.P50, r.P99, r.CPUPerReq)
		}
	}
	rep.transport = runs
	for _, w := range ways {
		rep.transportWays = append(rep.transportWays, transportWay{name: w.name, rest: w.rest})
	}
	rep.notePeak(gw.PID())
	if env.profileFor > 0 {
		for _, w := range []way{ways[1], covergateGRPC} {
			prof, err := profileUnder(ctx, env, "http://"+debugAddr, w)
			if err != nil {
				return err
			}
			rep.profiles = append(rep.profiles, prof)
		}
	}
	return nil
}
