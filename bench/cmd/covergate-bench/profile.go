package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/pprof/profile"

	"github.com/covergate/covergate/bench/loadgen"
)

// cpuProfile is what one CPU profile of the gateway says: where its CPU time went while it
// served one way's load.
type cpuProfile struct {
	Way      string
	Requests int           // requests served while the profile ran
	Total    time.Duration // CPU time sampled
	Flat     []share       // functions by own time
	Cum      []share       // functions by time including callees
	Packages []share       // packages by own time
	File     string        // where the raw profile was kept ("" = not kept)
}

type share struct {
	Name string
	CPU  time.Duration
}

// profileTop is how many functions and packages the report lists.
const profileTop = 20

// profileUnder asks the gateway's debug listener (--debug-addr, net/http/pprof) for a CPU
// profile while w's calls run at the benchmark's concurrency, for env.profileFor.
func profileUnder(ctx context.Context, env *env, debugURL string, w way) (cpuProfile, error) {
	seconds := max(1, int(env.profileFor.Round(time.Second)/time.Second))
	env.logf("transport: CPU profile of the gateway under %s load (%ds)", w.name, seconds)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var served atomic.Int64
	var failure atomic.Pointer[error]
	done := make(chan struct{})
	go func() { // owned here: stopped and waited for below
		defer close(done)
		for i := 0; loadCtx.Err() == nil; i++ {
			// Rounds of a fixed size, so Closed returns often enough to notice the end.
			res := loadgen.Closed(loadCtx, env.concurrency, 1000, func(ctx context.Context, j int) error {
				err := w.call(ctx, i*1000+j)
				if err != nil && ctx.Err() == nil {
					failure.CompareAndSwap(nil, &err)
				}
				return nil
			})
			served.Add(int64(res.Requests))
		}
	}()
	raw, err := fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, seconds), env.profileFor+30*time.Second)
	stopLoad()
	<-done
	if err != nil {
		return cpuProfile{}, err
	}
	if e := failure.Load(); e != nil {
		return cpuProfile{}, fmt.Errorf("transport: profiling %s: %w", w.name, *e)
	}
	prof, err := summarise(raw)
	if err != nil {
		return cpuProfile{}, err
	}
	prof.Way, prof.Requests = w.name, int(served.Load())
	if env.profiles != "" {
		if err := os.MkdirAll(env.profiles, 0o755); err != nil {
			return cpuProfile{}, err
		}
		prof.File = filepath.Join(env.profiles, "gateway-"+strings.ToLower(w.name)+".pprof")
		if err := os.WriteFile(prof.File, raw, 0o644); err != nil {
			return cpuProfile{}, err
		}
	}
	return prof, nil
}

func fetchProfile(ctx context.Context, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("transport: fetch profile: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("transport: read profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("transport: fetch profile: %d %s", resp.StatusCode, raw)
	}
	return raw, nil
}

// summarise ranks the functions of a CPU profile by flat and cumulative time (as
// `go tool pprof -top` and `-top -cum` do) and the packages by flat time.
func summarise(raw []byte) (cpuProfile, error) {
	p, err := profile.ParseData(raw)
	if err != nil {
		return cpuProfile{}, fmt.Errorf("transport: parse profile: %w", err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			idx = i
		}
	}
	if idx < 0 {
		return cpuProfile{}, fmt.Errorf("transport: profile has no cpu/nanoseconds samples")
	}
	flat, cum, pkgs := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		seen := map[string]bool{}
		leaf := true
		for _, loc := range s.Location {
			// Lines are innermost first: an inlined call is its own function, as in pprof.
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				if leaf {
					flat[name] += v
					pkgs[packageOf(name)] += v
					leaf = false
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	return cpuProfile{Total: time.Duration(total), Flat: top(flat), Cum: top(cum), Packages: top(pkgs)}, nil
}

func top(m map[string]int64) []share {
	out := make([]share, 0, len(m))
	for k, v := range m {
		out = append(out, share{Name: k, CPU: time.Duration(v)})
	}
	slices.SortFunc(out, func(a, b share) int { return cmp.Or(cmp.Compare(b.CPU, a.CPU), strings.Compare(a.Name, b.Name)) })
	return out[:min(len(out), profileTop)]
}

// packageOf is the import path of a function's symbol name: "net/http.(*conn).serve" →
// "net/http", "github.com/a/b.F.func1" → "github.com/a/b".
func packageOf(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}
