// Package supervise owns the gateway's background workers (outbox delivery, Scalepoint long
// poll, group commit, key sweeps, reconcilers, ...): each is a `Run(ctx) error` that runs until
// ctx ends. A worker that stops on its own is never left unnoticed:
//
//   - a transient failure (an error not marked Permanent) is logged and the worker restarted
//     with exponential backoff and jitter, up to MaxRestarts in a row (a worker that ran for
//     StableAfter counts as recovered);
//   - a permanent failure (Permanent(err), a panic, a nil return before shutdown, or too many
//     restarts) is logged, turns Healthy into an error (readiness goes false) and ends Run with
//     that error, which stops the process with a non-zero exit.
//
// Registering a worker is one line: sup.Add(supervise.Worker{Name: "outbox", Run: w.Run}).
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Worker is one background task.
type Worker struct {
	Name string
	// Run works until ctx ends, then returns nil. Returning earlier is a failure.
	Run func(ctx context.Context) error
}

// Defaults of Config's zero fields.
const (
	DefaultMaxRestarts = 5
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = time.Minute
	DefaultStableAfter = 5 * time.Minute
)

// Config tunes the restart policy.
type Config struct {
	Logger      *slog.Logger  // default slog.Default()
	MaxRestarts int           // transient failures in a row before a worker counts as dead
	MinBackoff  time.Duration // first restart delay (before jitter)
	MaxBackoff  time.Duration // cap of the restart delay
	StableAfter time.Duration // a run this long resets the count of failures in a row
}

// Supervisor runs workers and reports their health. Add workers before Run.
type Supervisor struct {
	cfg     Config
	workers []Worker

	mu         sync.Mutex
	failed     error         // the first permanent failure
	failedName string        // the worker that failed
	dead       chan struct{} // closed at the first permanent failure
}

// New returns a Supervisor with no workers.
func New(cfg Config) *Supervisor {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxRestarts <= 0 {
		cfg.MaxRestarts = DefaultMaxRestarts
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = DefaultStableAfter
	}
	return &Supervisor{cfg: cfg, dead: make(chan struct{})}
}

// Add registers workers; call it before Run.
func (s *Supervisor) Add(workers ...Worker) {
	s.workers = append(s.workers, workers...)
}

// Names lists the registered workers.
func (s *Supervisor) Names() []string {
	out := make([]string, len(s.workers))
	for i, w := range s.workers {
		out[i] = w.Name
	}
	return out
}

// Run runs every worker until ctx ends (then returns nil once all have returned) or one fails
// permanently (then it cancels the others, waits for them and returns that failure).
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Go(func() {
			if err := s.keep(ctx, w); err != nil {
				s.fail(w.Name, err)
				cancel()
			}
		})
	}
	wg.Wait()
	return s.Healthy()
}

// Healthy is nil while no worker has failed permanently, else the failure (for readiness).
func (s *Supervisor) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// FailedWorker names the worker that failed permanently, "" while none has. Unauthenticated
// callers (a readiness probe) get this, not Healthy's error, which may carry internal details.
func (s *Supervisor) FailedWorker() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failedName
}

// Dead is closed when a worker has failed permanently: the process should stop.
func (s *Supervisor) Dead() <-chan struct{} { return s.dead }

func (s *Supervisor) fail(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return
	}
	s.failed, s.failedName = fmt.Errorf("worker %s failed: %w", name, err), name
	s.cfg.Logger.Error("background worker failed; the gateway is no longer ready and stops", "worker", name, "error", err)
	close(s.dead)
}

// keep runs w, restarting it after transient failures; it returns nil when ctx ends and the
// permanent failure otherwise.
func (s *Supervisor) keep(ctx context.Context, w Worker) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = s.cfg.MinBackoff, s.cfg.MaxBackoff
	inARow := 0
	for {
		start := time.Now()
		err := s.runSafely(ctx, w)
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				s.cfg.Logger.Warn("background worker ended with an error at shutdown", "worker", w.Name, "error", err)
			}
			return nil
		}
		switch {
		case err == nil:
			return errors.New("stopped before shutdown without an error")
		case isPermanent(err):
			return err
		}
		if time.Since(start) >= s.cfg.StableAfter {
			inARow = 0
			b.Reset()
		}
		inARow++
		if inARow > s.cfg.MaxRestarts {
			return fmt.Errorf("gave up after %d restarts in a row: %w", s.cfg.MaxRestarts, err)
		}
		wait := b.NextBackOff()
		s.cfg.Logger.Warn("background worker failed; restarting", "worker", w.Name, "error", err,
			"restart", inARow, "of", s.cfg.MaxRestarts, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// runSafely runs w once, turning a panic into a permanent error (a bug: restarting would only
// repeat it). The stack is logged here; the error stays one line.
func (s *Supervisor) runSafely(ctx context.Context, w Worker) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("background worker panicked", "worker", w.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = Permanent(fmt.Errorf("panic: %v", p))
		}
	}()
	return w.Run(ctx)
}

// permanentError marks a failure that restarting cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth a restart (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
