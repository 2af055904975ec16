package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/jobs"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

const kind = "test.work"

func openStores(t *testing.T) map[string]store.Store {
	t.Helper()
	out := map[string]store.Store{}
	for name, dsn := range map[string]string{"sqlite": "sqlite:" + t.TempDir() + "/jobs.db", "postgres": pgtest.FreshDSN(t)} {
		st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		out[name] = st
	}
	return out
}

func enqueue(t *testing.T, st store.Store, key string, customerID string) domain.Job {
	t.Helper()
	var j domain.Job
	if err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		j, _, err = tx.EnsureJob(ctx, domain.Job{Kind: kind, Key: key, CustomerID: customerID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return j
}

// runUntil runs rounds of w (its clock jumps past every retry delay) until the job leaves
// PENDING or 200 rounds passed.
func runUntil(t *testing.T, w *jobs.Worker, st store.Store, id string, clock *time.Time) domain.Job {
	t.Helper()
	for range 200 {
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		j, err := st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != domain.JobPending {
			return j
		}
		*clock = clock.Add(time.Hour)
	}
	t.Fatal("job still pending after 200 rounds")
	return domain.Job{}
}

// TestWorker: failed attempts are retried with the error kept; the effect commits with the
// completion; a permanent error or used-up attempts fail the job for good; an erased customer's
// job is not completed and its effect rolls back.
func TestWorker(t *testing.T) {
	for name, st := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			clock := time.Now()
			var calls, applied atomic.Int32
			failures := map[string]int32{"flaky": 3, "down": 1 << 20}
			handler := jobs.HandlerFunc(func(ctx context.Context, j domain.Job) (jobs.Apply, error) {
				calls.Add(1)
				switch {
				case j.Key == "bad":
					return nil, jobs.Permanent(errors.New("no such thing"))
				case j.Attempts <= failures[j.Key]:
					return nil, errors.New("partner unavailable")
				}
				return func(ctx context.Context, tx store.Tx, j domain.Job) error {
					applied.Add(1)
					_, err := tx.SetCheckpoint(ctx, "job:"+j.Key, "applied")
					return err
				}, nil
			})
			w := &jobs.Worker{
				Store: st, Handlers: map[string]jobs.Handler{kind: handler}, Owner: "w-" + name,
				RetryInitial: time.Second, RetryMax: time.Minute, MaxAttempts: 5,
				Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler),
			}
			flaky := enqueue(t, st, "flaky", "")
			got := runUntil(t, w, st, flaky.ID, &clock)
			if got.Status != domain.JobDone || got.Attempts != 4 {
				t.Fatalf("flaky job: %+v", got)
			}
			if cp, err := st.GetCheckpoint(context.Background(), "job:flaky"); err != nil || cp.Value != "applied" {
				t.Fatalf("effect of the flaky job: %+v %v", cp, err)
			}
			bad := enqueue(t, st, "bad", "")
			if got := runUntil(t, w, st, bad.ID, &clock); got.Status != domain.JobFailed || got.Attempts != 1 || got.LastError != "no such thing" {
				t.Fatalf("permanent failure: %+v", got)
			}
			down := enqueue(t, st, "down", "")
			if got := runUntil(t, w, st, down.ID, &clock); got.Status != domain.JobFailed || got.Attempts != 5 || got.LastError != "partner unavailable" {
				t.Fatalf("attempts used up: %+v", got)
			}
			if applied.Load() != 1 {
				t.Fatalf("effects applied %d times, want 1", applied.Load())
			}

			// A customer erased while the job's partner call was in flight: the erasure fails
			// the job, the completion conflicts, the effect rolls back.
			var c domain.Customer
			if err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				var err error
				c, err = tx.CreateCustomer(ctx, domain.Customer{Profile: domain.Profile{Email: "gone@example.com"}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			erased := enqueue(t, st, "erased", c.ID)
			w.Handlers = map[string]jobs.Handler{kind: jobs.HandlerFunc(func(ctx context.Context, j domain.Job) (jobs.Apply, error) {
				if err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.EraseCustomer(ctx, c.ID, clock)
					return err
				}); err != nil {
					return nil, err
				}
				return func(ctx context.Context, tx store.Tx, j domain.Job) error {
					_, err := tx.SetCheckpoint(ctx, "job:erased", "applied")
					return err
				}, nil
			})}
			if _, err := w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.GetJob(context.Background(), erased.ID); got.Status != domain.JobFailed {
				t.Fatalf("job of an erased customer: %+v", got)
			}
			if _, err := st.GetCheckpoint(context.Background(), "job:erased"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the effect of a canceled job was applied: %v", err)
			}
		})
	}
}

// TestWorkerRunStops: Run works until its context ends, wakes on the signal, and returns nil.
func TestWorkerRunStops(t *testing.T) {
	st := openStores(t)["sqlite"]
	done := make(chan string, 1)
	wake := jobs.NewSignal()
	w := &jobs.Worker{
		Store: st, Owner: "w", Poll: time.Hour, Wake: wake, Logger: slog.New(slog.DiscardHandler),
		Handlers: map[string]jobs.Handler{kind: jobs.HandlerFunc(func(ctx context.Context, j domain.Job) (jobs.Apply, error) {
			done <- j.Key
			return nil, nil
		})},
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	enqueue(t, st, "woken", "")
	wake.Notify() // the poll interval is an hour: the job runs at once only thanks to the first round or the signal
	if key := <-done; key != "woken" {
		t.Fatalf("ran %q", key)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := (&jobs.Worker{}).Run(context.Background()); err == nil {
		t.Fatal("a worker without store and handlers ran")
	}
}

type gatedHandler struct {
	ready atomic.Bool
	ran   atomic.Int32
}

func (h *gatedHandler) Ready() bool { return h.ready.Load() }

func (h *gatedHandler) Perform(context.Context, domain.Job) (jobs.Apply, error) {
	h.ran.Add(1)
	return nil, nil
}

// TestWorkerGate: while a handler's gate is closed (its partner's breaker is open) its jobs are
// not claimed, so they keep their attempts; once it opens they run.
func TestWorkerGate(t *testing.T) {
	st := openStores(t)["sqlite"]
	h := &gatedHandler{}
	w := &jobs.Worker{Store: st, Owner: "w", Handlers: map[string]jobs.Handler{kind: h}, Logger: slog.New(slog.DiscardHandler)}
	j := enqueue(t, st, "gated", "")
	for range 3 {
		if n, err := w.RunOnce(context.Background()); n != 0 || err != nil {
			t.Fatalf("round with the gate closed: %d %v", n, err)
		}
	}
	if got, _ := st.GetJob(context.Background(), j.ID); got.Attempts != 0 || h.ran.Load() != 0 {
		t.Fatalf("gated job attempted: %+v", got)
	}
	h.ready.Store(true)
	if n, err := w.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("round with the gate open: %d %v", n, err)
	}
	if got, _ := st.GetJob(context.Background(), j.ID); got.Status != domain.JobDone || got.Attempts != 1 {
		t.Fatalf("job after the gate opened: %+v", got)
	}
}
