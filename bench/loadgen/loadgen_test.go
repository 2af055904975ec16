package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, ms(i))
	}
	r := Result{latencies: lat}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, ms(50)}, {0.99, ms(99)}, {1, ms(100)}, {0, ms(1)}}
	for _, tt := range tests {
		if got := r.Percentile(tt.q); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if (Result{}).Percentile(0.5) != 0 {
		t.Error("empty result has a percentile")
	}
}

func TestClosedRunsEveryRequestOnceAndCountsErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		concurrency int
		n           int
		failEvery   int
	}{
		{"one worker", 1, 10, 0},
		{"more workers than requests", 8, 5, 0},
		{"errors counted", 4, 100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make([]atomic.Int32, tt.n)
			r := Closed(context.Background(), tt.concurrency, tt.n, func(_ context.Context, i int) error {
				seen[i].Add(1)
				if tt.failEvery > 0 && i%tt.failEvery == 0 {
					return boom
				}
				return nil
			})
			for i := range seen {
				if seen[i].Load() != 1 {
					t.Fatalf("request %d ran %d times", i, seen[i].Load())
				}
			}
			wantErrs := 0
			if tt.failEvery > 0 {
				wantErrs = tt.n / tt.failEvery
			}
			if r.Requests != tt.n || r.Errors != wantErrs || (wantErrs > 0) != (r.Err() != nil) {
				t.Fatalf("result %+v err %v, want %d requests, %d errors", r, r.Err(), tt.n, wantErrs)
			}
			if wantErrs > 0 && !errors.Is(r.Err(), boom) {
				t.Fatalf("Err() = %v, want it to wrap the first error", r.Err())
			}
		})
	}
}

func TestOpenRunsEveryRequestOnce(t *testing.T) {
	const n = 50
	seen := make([]atomic.Int32, n)
	r := Open(context.Background(), 10000, n, 4, func(_ context.Context, i int) error {
		seen[i].Add(1)
		return nil
	})
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("request %d ran %d times", i, seen[i].Load())
		}
	}
	if r.Requests != n || r.Err() != nil {
		t.Fatalf("result %+v", r)
	}
}

func TestCanceledContextStopsStartingRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, run := range map[string]func() Result{
		"closed": func() Result { return Closed(ctx, 2, 100, func(context.Context, int) error { return nil }) },
		"open":   func() Result { return Open(ctx, 10, 100, 2, func(context.Context, int) error { return nil }) },
	} {
		if r := run(); r.Requests != 0 {
			t.Errorf("%s: %d requests ran after cancel", name, r.Requests)
		}
	}
}
