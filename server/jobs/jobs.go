// Package jobs runs durable background jobs (store.JobStore): work that must happen after a
// transaction committed and must survive a crash or a partner outage, such as fetching an Etvas
// customer's profile after their purchase was acknowledged.
//
// A job is written in the transaction that makes it necessary (unique per kind and key). A
// Worker leases due jobs, does the outside work (Handler.Perform: partner calls, outside any
// transaction) and commits its effect together with the job's completion, so the effect is
// applied exactly once even when an attempt's outcome is lost (crash, lost lease: the job is
// attempted again after its lease expires, and its effect must tolerate that). A failed attempt
// is retried with exponential backoff and jitter; after MaxAttempts the job is FAILED, visible
// with its last error (store.ListJobs) and re-queueable (store.JobStore.RequeueJob).
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Defaults of Worker's zero fields.
const (
	DefaultLease        = time.Minute
	DefaultBatch        = 20
	DefaultPoll         = time.Second
	DefaultRetryInitial = 5 * time.Second
	DefaultRetryMax     = 15 * time.Minute
	// DefaultMaxAttempts with the default backoff keeps trying for about 11 hours.
	DefaultMaxAttempts = 50
	maxLastErrorLength = 1000
)

// Apply is a job's effect, committed in the transaction that completes the job. It must not
// call partners (the transaction may run more than once).
type Apply func(ctx context.Context, tx store.Tx, j domain.Job) error

// Handler does one kind of job.
type Handler interface {
	// Perform does the job's outside work, bounded by ctx, and returns the effect to commit.
	// An error fails the attempt: the job is retried later, or failed for good when the error
	// is Permanent or the attempts are used up.
	Perform(ctx context.Context, j domain.Job) (Apply, error)
}

// Gate is implemented by handlers whose work depends on a partner with a circuit breaker: while
// Ready is false their jobs are not claimed, so an outage does not burn every queued job's
// attempts on calls that cannot reach the partner.
type Gate interface {
	Ready() bool
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, j domain.Job) (Apply, error)

// Perform implements Handler.
func (f HandlerFunc) Perform(ctx context.Context, j domain.Job) (Apply, error) { return f(ctx, j) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that no retry can fix: the job is FAILED at once.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

// Signal wakes a Worker early (for example right after a job was written). The zero value is
// not usable; nil is, and ignores Notify.
type Signal struct{ c chan struct{} }

// NewSignal returns a Signal.
func NewSignal() *Signal { return &Signal{c: make(chan struct{}, 1)} }

// Notify asks the worker for a round soon; it never blocks, and signals coalesce.
func (s *Signal) Notify() {
	if s == nil {
		return
	}
	select {
	case s.c <- struct{}{}:
	default:
	}
}

func (s *Signal) ch() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.c
}

// Worker runs jobs. Several workers (in one process or many replicas) may share a store: a job
// is leased to one owner at a time.
type Worker struct {
	Store    store.Store
	Handlers map[string]Handler // by job kind; only these kinds are claimed
	// Owner identifies this worker in leases; unique per worker (a UUID per process).
	Owner string
	// Lease reserves a claimed job; an attempt gets at most half of it, so its outcome is
	// recorded while the lease is still held.
	Lease        time.Duration
	Batch        int
	Poll         time.Duration // wait between rounds when nothing was due
	RetryInitial time.Duration // delay after the first failed attempt (doubling, with jitter)
	RetryMax     time.Duration // cap of the delay
	MaxAttempts  int           // attempts before the job is FAILED
	Wake         *Signal       // optional: starts a round early
	Now          func() time.Time
	Logger       *slog.Logger
	// Observe, when set, is told each attempt's outcome per kind: "done", "retry", "failed",
	// "lost_lease".
	Observe func(kind, outcome string)
}

func (w *Worker) defaults() error {
	if w.Store == nil || len(w.Handlers) == 0 || w.Owner == "" {
		return errors.New("jobs: Store, Handlers and Owner are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&w.Lease, DefaultLease)
	def(&w.Poll, DefaultPoll)
	def(&w.RetryInitial, DefaultRetryInitial)
	def(&w.RetryMax, DefaultRetryMax)
	if w.Batch <= 0 {
		w.Batch = DefaultBatch
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = DefaultMaxAttempts
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	return nil
}

// Run works until ctx ends; the attempt in progress then is finished and recorded (it is
// bounded by half the lease). It returns nil after ctx ends, or a configuration error at once.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.defaults(); err != nil {
		return err
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.Wake.ch():
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.WarnContext(ctx, "jobs: round failed", "error", err)
		}
		next := w.Poll
		if n == w.Batch && err == nil {
			next = 0 // a full batch: more are probably due
		}
		timer.Stop()
		select {
		case <-timer.C:
		default:
		}
		timer.Reset(next)
	}
}

// RunOnce claims one batch of due jobs and attempts each, returning how many were claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if err := w.defaults(); err != nil {
		return 0, err
	}
	kinds := make([]string, 0, len(w.Handlers))
	for k, h := range w.Handlers {
		if g, ok := h.(Gate); ok && !g.Ready() {
			continue
		}
		kinds = append(kinds, k)
	}
	if len(kinds) == 0 {
		return 0, nil
	}
	slices.Sort(kinds)
	var due []domain.Job
	err := w.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		due, err = tx.ClaimJobs(ctx, w.Owner, kinds, w.Now(), w.Lease, w.Batch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("jobs: claim due jobs: %w", err)
	}
	// Attempts outlive ctx: one started before shutdown is finished and recorded instead of
	// being repeated by the next owner after its lease.
	work := context.WithoutCancel(ctx)
	for _, j := range due {
		w.attempt(work, j)
	}
	return len(due), nil
}

// attempt performs one leased job and records the outcome.
func (w *Worker) attempt(ctx context.Context, j domain.Job) {
	log := w.Logger.With("job_id", j.ID, "job_kind", j.Kind, "attempt", j.Attempts)
	actx, cancel := context.WithTimeout(ctx, w.Lease/2)
	apply, err := w.Handlers[j.Kind].Perform(actx, j)
	cancel()
	if err == nil {
		err = w.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if apply != nil {
				if err := apply(ctx, tx, j); err != nil {
					return err
				}
			}
			return tx.CompleteJob(ctx, j.ID, w.Owner, w.Now())
		})
		switch {
		case err == nil:
			w.observe(j.Kind, "done")
			log.InfoContext(ctx, "job done")
			return
		case errors.Is(err, store.ErrConflict):
			// The lease was lost (expired and taken over, or the job was canceled by an
			// erasure): the effect rolled back with the completion; the holder decides.
			w.observe(j.Kind, "lost_lease")
			log.WarnContext(ctx, "job lease lost; its effect was not applied", "error", err)
			return
		}
		err = fmt.Errorf("apply: %w", err)
	}
	lastErr := err.Error()
	if len(lastErr) > maxLastErrorLength {
		lastErr = lastErr[:maxLastErrorLength]
	}
	now := w.Now()
	outcome := "retry"
	rerr := w.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if IsPermanent(err) || int(j.Attempts) >= w.MaxAttempts {
			outcome = "failed"
			return tx.FailJob(ctx, j.ID, w.Owner, lastErr, now)
		}
		return tx.RetryJob(ctx, j.ID, w.Owner, now.Add(w.backoff(int(j.Attempts))), lastErr, now)
	})
	if rerr != nil {
		outcome = "lost_lease"
		log.WarnContext(ctx, "job outcome not recorded; it runs again after its lease", "error", rerr)
	} else if outcome == "failed" {
		log.ErrorContext(ctx, "job failed for good: re-queue it once the cause is fixed", "error", lastErr)
	} else {
		log.WarnContext(ctx, "job attempt failed; retrying later", "error", lastErr)
	}
	w.observe(j.Kind, outcome)
}

// backoff is the delay after the given number of attempts: RetryInitial doubled per attempt,
// capped at RetryMax, with "equal jitter" (half fixed, half random) so that jobs failed by one
// outage do not all come back at the same instant.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.RetryInitial
	for i := 1; i < attempts && d < w.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.RetryMax)
	half := d / 2
	return half + rand.N(half+1) //nolint:gosec // jitter, not security
}

func (w *Worker) observe(kind, outcome string) {
	if w.Observe != nil {
		w.Observe(kind, outcome)
	}
}
