// Package loadgen drives a call at a fixed concurrency (closed loop: the next call starts when
// one ends, for throughput) or at a fixed rate (open loop: calls start on schedule whether or not
// earlier ones finished, so latency is measured without coordinated omission).
package loadgen

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Call performs request number i (0 ≤ i < n). A non-nil error counts as a failed request.
type Call func(ctx context.Context, i int) error

// Result summarises one run.
type Result struct {
	Requests  int
	Errors    int
	FirstErr  error
	Elapsed   time.Duration
	latencies []time.Duration // sorted
}

// Throughput is completed requests (errors included) per second of wall time.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency at quantile q (0..1), nearest rank.
func (r Result) Percentile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.5) - 1
	i = max(0, min(i, len(r.latencies)-1))
	return r.latencies[i]
}

// Err is nil when every request succeeded.
func (r Result) Err() error {
	if r.Errors == 0 {
		return nil
	}
	return fmt.Errorf("loadgen: %d of %d requests failed, first: %w", r.Errors, r.Requests, r.FirstErr)
}

type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	first     error
}

func (rec *recorder) add(d time.Duration, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.latencies = append(rec.latencies, d)
	if err != nil {
		rec.errors++
		if rec.first == nil {
			rec.first = err
		}
	}
}

func (rec *recorder) result(elapsed time.Duration) Result {
	slices.Sort(rec.latencies)
	return Result{Requests: len(rec.latencies), Errors: rec.errors, FirstErr: rec.first, Elapsed: elapsed, latencies: rec.latencies}
}

// Closed runs n calls with concurrency workers, each starting its next call when its previous
// one returns. Every worker is finished when Closed returns.
func Closed(ctx context.Context, concurrency, n int, call Call) Result {
	rec := &recorder{latencies: make([]time.Duration, 0, n)}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := call(ctx, i)
				rec.add(time.Since(t), err)
			}
		})
	}
	wg.Wait()
	return rec.result(time.Since(start))
}

// Open starts n calls at rate per second, each in its own goroutine, and measures each from its
// scheduled start (so a stalled server shows up as latency, not as a slower schedule). At most
// maxInFlight calls run at once; a call that cannot start because of that bound still has its
// latency counted from its scheduled time. Every call is finished when Open returns.
func Open(ctx context.Context, rate float64, n, maxInFlight int, call Call) Result {
	rec := &recorder{latencies: make([]time.Duration, 0, n)}
	interval := time.Duration(float64(time.Second) / rate)
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			err := call(ctx, i)
			rec.add(time.Since(due), err)
		})
	}
	wg.Wait()
	return rec.result(time.Since(start))
}
