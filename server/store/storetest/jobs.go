package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const jobKind = "test.fetch"

func ensureJob(t *testing.T, s store.Store, j domain.Job) (domain.Job, bool) {
	t.Helper()
	var got domain.Job
	var created bool
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, created, err = tx.EnsureJob(ctx, j)
		return err
	})
	return got, created
}

func claimJobs(t *testing.T, s store.Store, owner string, kinds []string, now time.Time, lease time.Duration, limit int) []domain.Job {
	t.Helper()
	var got []domain.Job
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.ClaimJobs(ctx, owner, kinds, now, lease, limit)
		return err
	})
	return got
}

// testJobs: a job is stored once per (kind, key), leased when due and only for the kinds asked,
// and completed, retried, failed and re-queued only by its lease holder (or an operator).
func testJobs(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	a, created := ensureJob(t, s, domain.Job{Kind: jobKind, Key: "ctx-a", Payload: []byte(`{"contextId":"ctx-a"}`), NextAttemptTime: t0})
	if !created || a.ID == "" || a.Status != domain.JobPending || a.Attempts != 0 {
		t.Fatalf("ensure: %+v created=%v", a, created)
	}
	again, created := ensureJob(t, s, domain.Job{Kind: jobKind, Key: "ctx-a", Payload: []byte(`{"other":true}`), NextAttemptTime: t0})
	if created || again.ID != a.ID || string(again.Payload) != `{"contextId":"ctx-a"}` {
		t.Fatalf("ensure of the same key: %+v created=%v, want the first job unchanged", again, created)
	}
	b, _ := ensureJob(t, s, domain.Job{Kind: jobKind, Key: "ctx-b", NextAttemptTime: t0.Add(time.Minute)})
	other, _ := ensureJob(t, s, domain.Job{Kind: "test.other", Key: "ctx-a", NextAttemptTime: t0})
	if other.ID == a.ID {
		t.Fatal("the same key in another kind is another job")
	}
	found, err := s.FindJob(ctx, jobKind, "ctx-a")
	noErr(t, err)
	if found.ID != a.ID || !found.NextAttemptTime.Equal(t0) {
		t.Fatalf("find: %+v", found)
	}
	_, err = s.FindJob(ctx, jobKind, "nope")
	wantErr(t, err, store.ErrNotFound)

	// Only due jobs of the asked kinds are leased.
	leased := claimJobs(t, s, "w1", []string{jobKind}, t0, time.Minute, 10)
	if len(leased) != 1 || leased[0].ID != a.ID || leased[0].Attempts != 1 || leased[0].LeaseOwner != "w1" ||
		!leased[0].LeaseExpireTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claim at t0: %+v", leased)
	}
	if again := claimJobs(t, s, "w2", []string{jobKind}, t0, time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased job was leased again: %+v", again)
	}
	// Only the lease holder finishes it.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		wantErr(t, tx.CompleteJob(ctx, a.ID, "w2", t0), store.ErrConflict)
		wantErr(t, tx.CompleteJob(ctx, "00000000-0000-7000-8000-000000000000", "w1", t0), store.ErrNotFound)
		return tx.RetryJob(ctx, a.ID, "w1", t0.Add(5*time.Minute), "etvas: 503", t0.Add(time.Second))
	})
	r, err := s.GetJob(ctx, a.ID)
	noErr(t, err)
	if r.Status != domain.JobPending || r.LastError != "etvas: 503" || r.LeaseOwner != "" || !r.NextAttemptTime.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("after retry: %+v", r)
	}
	// At t0+5m both are due, in next-attempt order.
	leased = claimJobs(t, s, "w1", []string{jobKind}, t0.Add(5*time.Minute), time.Minute, 10)
	sort.Slice(leased, func(i, j int) bool { return leased[i].NextAttemptTime.Before(leased[j].NextAttemptTime) })
	if len(leased) != 2 || leased[0].ID != b.ID || leased[1].ID != a.ID || leased[1].Attempts != 2 {
		t.Fatalf("claim at t0+5m: %+v", leased)
	}
	done := t0.Add(6 * time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		noErr(t, tx.CompleteJob(ctx, a.ID, "w1", done))
		return tx.FailJob(ctx, b.ID, "w1", "permanent: 404", done)
	})
	ga, err := s.GetJob(ctx, a.ID)
	noErr(t, err)
	gb, err := s.GetJob(ctx, b.ID)
	noErr(t, err)
	if ga.Status != domain.JobDone || !ga.DoneTime.Equal(done) || ga.LastError != "" || ga.LeaseOwner != "" {
		t.Fatalf("completed: %+v", ga)
	}
	if gb.Status != domain.JobFailed || gb.LastError != "permanent: 404" {
		t.Fatalf("failed: %+v", gb)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		wantErr(t, tx.RetryJob(ctx, a.ID, "w1", done, "late", done), store.ErrConflict) // done is final
		wantErr(t, tx.RequeueJob(ctx, a.ID, done), store.ErrConflict)                   // only FAILED re-queues
		return tx.RequeueJob(ctx, b.ID, done)
	})
	gb, err = s.GetJob(ctx, b.ID)
	noErr(t, err)
	if gb.Status != domain.JobPending || gb.Attempts != 0 || !gb.NextAttemptTime.Equal(done) {
		t.Fatalf("requeued: %+v", gb)
	}
	failed, err := s.ListJobs(ctx, store.JobFilter{Status: domain.JobDone}, store.PageRequest{})
	noErr(t, err)
	if len(failed.Items) != 1 || failed.Items[0].ID != a.ID {
		t.Fatalf("list DONE: %+v", failed.Items)
	}
	all, err := s.ListJobs(ctx, store.JobFilter{Kind: jobKind}, store.PageRequest{})
	noErr(t, err)
	if len(all.Items) != 2 {
		t.Fatalf("list kind: %d jobs", len(all.Items))
	}
	// A crashed worker's lease is taken over once it expires.
	leased = claimJobs(t, s, "w1", []string{jobKind}, done, time.Minute, 10)
	if len(leased) != 1 {
		t.Fatalf("requeued job not claimable: %+v", leased)
	}
	if got := claimJobs(t, s, "w2", []string{jobKind}, done.Add(time.Minute), time.Minute, 10); len(got) != 1 || got[0].LeaseOwner != "w2" {
		t.Fatalf("takeover after lease expiry: %+v", got)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		wantErr(t, tx.CompleteJob(ctx, b.ID, "w1", done), store.ErrConflict)
		return nil
	})
}

// testJobsConcurrent: workers claiming at the same time never share a job, and concurrent
// EnsureJob calls of one key make one job.
func testJobsConcurrent(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	const n = 20
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			j, _ := ensureJob(t, s, domain.Job{Kind: jobKind, Key: "same", NextAttemptTime: t0})
			ids[i] = j.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent EnsureJob made several jobs: %v", ids)
		}
	}
	for i := range n - 1 {
		ensureJob(t, s, domain.Job{Kind: jobKind, Key: fmt.Sprintf("k-%d", i), NextAttemptTime: t0})
	}
	var mu sync.Mutex
	seen := map[string]string{}
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", w)
			for {
				got := claimJobs(t, s, owner, []string{jobKind}, t0, time.Hour, 3)
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %s leased by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d jobs leased, want %d", len(seen), n)
	}
}
