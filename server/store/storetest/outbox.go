package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func enqueue(t *testing.T, s store.Store, n int, next time.Time) []domain.Publication {
	t.Helper()
	var out []domain.Publication
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			p, err := tx.EnqueuePublication(ctx, domain.Publication{
				Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "acme"},
				EventType:   "claim.created", CorrelationID: fmt.Sprintf("corr-%d", i),
				Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), NextAttemptTime: next,
			})
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out
}

func claim(t *testing.T, s store.Store, owner string, now time.Time, lease time.Duration, limit int) []domain.Publication {
	t.Helper()
	var got []domain.Publication
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.ClaimDue(ctx, owner, now, lease, limit)
		return err
	})
	return got
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	pubs := enqueue(t, s, 3, t0)
	got, err := s.GetPublication(ctx, pubs[0].ID)
	noErr(t, err)
	if got.Status != domain.PublicationPending || got.Attempts != 0 || !got.NextAttemptTime.Equal(t0) || string(got.Payload) != `{"i":0}` {
		t.Fatalf("enqueued: %+v", got)
	}
	if c := claim(t, s, "w1", t0.Add(-time.Second), time.Minute, 10); len(c) != 0 {
		t.Fatalf("claimed %d publications before they were due", len(c))
	}
	leased := claim(t, s, "w1", t0, time.Minute, 2)
	if len(leased) != 2 || leased[0].ID != pubs[0].ID || leased[1].ID != pubs[1].ID {
		t.Fatalf("claim order: %+v", leased)
	}
	if leased[0].LeaseOwner != "w1" || !leased[0].LeaseExpireTime.Equal(t0.Add(time.Minute)) || leased[0].Attempts != 1 {
		t.Fatalf("lease: %+v", leased[0])
	}

	// Deliver one, retry one later, fail the third.
	third := claim(t, s, "w1", t0, time.Minute, 10)
	if len(third) != 1 || third[0].ID != pubs[2].ID {
		t.Fatalf("third claim: %+v", third)
	}
	retryAt := t0.Add(10 * time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		noErr(t, tx.MarkDelivered(ctx, pubs[0].ID, "w1", "4711", t0.Add(time.Second)))
		noErr(t, tx.MarkRetry(ctx, pubs[1].ID, "w1", retryAt, "503 from partner", t0.Add(time.Second)))
		return tx.MarkFailed(ctx, pubs[2].ID, "w1", "400 bad request", t0.Add(time.Second))
	})
	d, err := s.GetPublication(ctx, pubs[0].ID)
	noErr(t, err)
	if d.Status != domain.PublicationDelivered || d.PartnerEventID != "4711" || d.LeaseOwner != "" || !d.DeliverTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("delivered: %+v", d)
	}
	// Finishing again (lease gone) conflicts; unknown ids are not found.
	for _, tc := range []struct {
		id   string
		want error
	}{{pubs[0].ID, store.ErrConflict}, {"missing", store.ErrNotFound}} {
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.MarkDelivered(ctx, tc.id, "w1", "1", t0) })
		wantErr(t, err, tc.want)
	}
	if c := claim(t, s, "w2", retryAt.Add(-time.Second), time.Minute, 10); len(c) != 0 {
		t.Fatalf("retried publication claimed before its next attempt: %+v", c)
	}
	again := claim(t, s, "w2", retryAt, time.Minute, 10)
	if len(again) != 1 || again[0].ID != pubs[1].ID || again[0].Attempts != 2 || again[0].LastError != "503 from partner" {
		t.Fatalf("retry claim: %+v", again)
	}

	// A lease given back unsent (breaker open) takes its attempt back; only the holder may.
	releaseAt := retryAt.Add(time.Minute)
	wantErr(t, s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleasePublication(ctx, pubs[1].ID, "w1", releaseAt, retryAt)
	}), store.ErrConflict)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleasePublication(ctx, pubs[1].ID, "w2", releaseAt, retryAt)
	})
	released, err := s.GetPublication(ctx, pubs[1].ID)
	noErr(t, err)
	if released.Attempts != 1 || released.LeaseOwner != "" || !released.NextAttemptTime.Equal(releaseAt) ||
		released.Status != domain.PublicationPending || released.LastError != "503 from partner" {
		t.Fatalf("released: %+v", released)
	}
	if again := claim(t, s, "w3", releaseAt, time.Minute, 10); len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("claim after release: %+v", again)
	}

	st, err := s.OutboxStats(ctx)
	noErr(t, err)
	if st.Pending != 1 || st.Delivered != 1 || st.Failed != 1 || st.OldestPendingTime.IsZero() {
		t.Fatalf("stats: %+v", st)
	}
	failed, err := s.ListPublications(ctx, store.PublicationFilter{Status: domain.PublicationFailed}, store.PageRequest{})
	noErr(t, err)
	if len(failed.Items) != 1 || failed.Items[0].ID != pubs[2].ID || failed.Items[0].LastError != "400 bad request" {
		t.Fatalf("failed list: %+v", failed)
	}
	byType, err := s.ListPublications(ctx, store.PublicationFilter{EventType: "claim.created"}, store.PageRequest{Size: 2})
	noErr(t, err)
	if len(byType.Items) != 2 || byType.Next == "" {
		t.Fatalf("by type: %+v", byType)
	}

	// Replay a failed publication; only FAILED ones can be requeued.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RequeuePublication(ctx, pubs[2].ID, retryAt) })
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.RequeuePublication(ctx, pubs[0].ID, retryAt) })
	wantErr(t, err, store.ErrConflict)
	re := claim(t, s, "w3", retryAt, time.Minute, 10)
	if len(re) != 1 || re[0].ID != pubs[2].ID || re[0].Attempts != 1 {
		t.Fatalf("requeued claim (a fresh attempt budget: this claim is attempt 1): %+v", re)
	}
	bad := []struct {
		owner string
		lease time.Duration
		limit int
	}{{"", time.Minute, 1}, {"w", 0, 1}, {"w", time.Minute, 0}}
	for _, b := range bad {
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.ClaimDue(ctx, b.owner, t0, b.lease, b.limit)
			return err
		})
		if err == nil {
			t.Fatalf("ClaimDue(%+v) succeeded", b)
		}
	}
}

func testOutboxTwoWorkers(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	pubs := enqueue(t, s, 40, t0)
	var mu sync.Mutex
	owners := map[string][]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, w := range []string{"worker-a", "worker-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var got []domain.Publication
				err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					var err error
					got, err = tx.ClaimDue(ctx, w, t0, time.Hour, 3)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, p := range got {
					owners[p.ID] = append(owners[p.ID], w)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range pubs {
		if len(owners[p.ID]) != 1 {
			t.Fatalf("publication %s claimed by %v", p.ID, owners[p.ID])
		}
	}
	ctx := ctxFor(t)
	for _, p := range pubs {
		got, err := s.GetPublication(ctx, p.ID)
		noErr(t, err)
		if got.Attempts != 1 || got.LeaseOwner != owners[p.ID][0] {
			t.Fatalf("publication %s: attempts %d owner %s", p.ID, got.Attempts, got.LeaseOwner)
		}
	}
}

func testOutboxLeaseTakeover(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	p := enqueue(t, s, 1, t0)[0]
	if got := claim(t, s, "crashed", t0, time.Minute, 5); len(got) != 1 {
		t.Fatalf("first claim: %+v", got)
	}
	if got := claim(t, s, "rescuer", t0.Add(59*time.Second), time.Minute, 5); len(got) != 0 {
		t.Fatalf("lease taken over before it expired: %+v", got)
	}
	got := claim(t, s, "rescuer", t0.Add(time.Minute), time.Minute, 5)
	if len(got) != 1 || got[0].ID != p.ID || got[0].LeaseOwner != "rescuer" || got[0].Attempts != 2 {
		t.Fatalf("takeover: %+v", got)
	}
	// The crashed worker comes back: its lease is gone.
	for _, mark := range []func(tx store.Tx) error{
		func(tx store.Tx) error { return tx.MarkDelivered(ctx, p.ID, "crashed", "1", t0) },
		func(tx store.Tx) error { return tx.MarkRetry(ctx, p.ID, "crashed", t0, "x", t0) },
		func(tx store.Tx) error { return tx.MarkFailed(ctx, p.ID, "crashed", "x", t0) },
	} {
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return mark(tx) })
		wantErr(t, err, store.ErrConflict)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.MarkDelivered(ctx, p.ID, "rescuer", "_9", t0.Add(time.Minute))
	})
	final, err := s.GetPublication(ctx, p.ID)
	noErr(t, err)
	if final.Status != domain.PublicationDelivered || final.PartnerEventID != "_9" {
		t.Fatalf("final: %+v", final)
	}
}
