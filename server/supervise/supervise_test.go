package supervise_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/supervise"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a log sink safe for the workers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newSupervisor(logs *syncBuffer) *supervise.Supervisor {
	return supervise.New(supervise.Config{
		Logger:      slog.New(slog.NewJSONHandler(logs, nil)),
		MaxRestarts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, StableAfter: time.Hour,
	})
}

// untilDone is a well-behaved worker: it works until ctx ends.
func untilDone(stopped *atomic.Bool) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		stopped.Store(true)
		return nil
	}
}

func TestShutdownIsNotAFailure(t *testing.T) {
	logs := &syncBuffer{}
	sup := newSupervisor(logs)
	var a, b atomic.Bool
	sup.Add(supervise.Worker{Name: "a", Run: untilDone(&a)}, supervise.Worker{Name: "b", Run: untilDone(&b)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	if err := sup.Healthy(); err != nil {
		t.Fatalf("healthy while running: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after shutdown = %v, want nil", err)
	}
	if !a.Load() || !b.Load() || sup.Healthy() != nil || sup.FailedWorker() != "" {
		t.Fatalf("workers stopped %v %v, healthy %v", a.Load(), b.Load(), sup.Healthy())
	}
	select {
	case <-sup.Dead():
		t.Fatal("Dead closed by a normal shutdown")
	default:
	}
}

func TestFailures(t *testing.T) {
	transient := errors.New("database connection reset")
	tests := []struct {
		name     string
		run      func(calls *atomic.Int32) func(context.Context) error
		wantRuns int32
		wantErr  string // "" = stays healthy until shutdown
	}{
		{"transient then recovers", func(calls *atomic.Int32) func(context.Context) error {
			return func(ctx context.Context) error {
				if calls.Add(1) <= 2 {
					return transient
				}
				<-ctx.Done()
				return nil
			}
		}, 3, ""},
		{"transient too often", func(calls *atomic.Int32) func(context.Context) error {
			return func(context.Context) error { calls.Add(1); return transient }
		}, 4, "worker flaky failed: gave up after 3 restarts in a row: database connection reset"},
		{"permanent", func(calls *atomic.Int32) func(context.Context) error {
			return func(context.Context) error { calls.Add(1); return supervise.Permanent(errors.New("config broken")) }
		}, 1, "worker flaky failed: config broken"},
		{"stops without error", func(calls *atomic.Int32) func(context.Context) error {
			return func(context.Context) error { calls.Add(1); return nil }
		}, 1, "worker flaky failed: stopped before shutdown without an error"},
		{"panics", func(calls *atomic.Int32) func(context.Context) error {
			return func(context.Context) error { calls.Add(1); panic("nil map") }
		}, 1, "worker flaky failed: panic: nil map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			sup := newSupervisor(logs)
			var calls atomic.Int32
			var healthyStopped atomic.Bool
			sup.Add(supervise.Worker{Name: "flaky", Run: tc.run(&calls)}, supervise.Worker{Name: "healthy", Run: untilDone(&healthyStopped)})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- sup.Run(ctx) }()
			if tc.wantErr == "" {
				for calls.Load() < tc.wantRuns {
					time.Sleep(time.Millisecond)
				}
				if err := sup.Healthy(); err != nil {
					t.Fatalf("unhealthy after recovering: %v", err)
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run = %v", err)
				}
			} else {
				<-sup.Dead()
				err := <-done
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Run = %v, want %q", err, tc.wantErr)
				}
				if h := sup.Healthy(); h == nil || h.Error() != tc.wantErr {
					t.Fatalf("Healthy = %v", h)
				}
				if name := sup.FailedWorker(); name != "flaky" {
					t.Fatalf("FailedWorker = %q", name)
				}
				if !healthyStopped.Load() {
					t.Fatal("the other workers were not stopped")
				}
				if !strings.Contains(logs.String(), `"worker":"flaky"`) || !strings.Contains(logs.String(), "no longer ready") {
					t.Fatalf("failure not logged:\n%s", logs)
				}
			}
			if got := calls.Load(); got != tc.wantRuns {
				t.Fatalf("worker ran %d times, want %d", got, tc.wantRuns)
			}
		})
	}
}

func TestPermanentNil(t *testing.T) {
	if supervise.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	base := errors.New("x")
	if !errors.Is(supervise.Permanent(base), base) {
		t.Fatal("Permanent hides its cause")
	}
}
