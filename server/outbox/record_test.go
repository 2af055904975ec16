package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// failingStore fails MarkDelivered of one publication with a store error (not a lost lease).
type failingStore struct {
	store.Store
	failID string
}

func (s failingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, failingTx{tx, s.failID}) })
}

type failingTx struct {
	store.Tx
	failID string
}

func (t failingTx) MarkDelivered(ctx context.Context, id, owner string, partnerEventID string, now time.Time) error {
	if id == t.failID {
		return errors.New("disk on fire")
	}
	return t.Tx.MarkDelivered(ctx, id, owner, partnerEventID, now)
}

// Outcomes are recorded in shared transactions; one that cannot be recorded must not keep the
// others of its batch unrecorded, and stays PENDING under its lease (sent again after it).
func TestOneUnrecordableOutcomeDoesNotLoseTheOthers(t *testing.T) {
	for _, failAt := range []int{0, 7, 19} {
		f := newFixture(t)
		ids := f.enqueue(t, 20)
		pub := &publisher{}
		w := f.worker(pub, "w1")
		w.Store = failingStore{Store: f.store, failID: ids[failAt]}
		w.Concurrency = 1
		var mu sync.Mutex
		outcomes := map[string]int{}
		w.Observe = func(o string) { mu.Lock(); outcomes[o]++; mu.Unlock() }
		runOnce(t, w, 20)
		for i, id := range ids {
			p := f.get(t, id)
			want := domain.PublicationDelivered
			if i == failAt {
				want = domain.PublicationPending
			}
			if p.Status != want {
				t.Errorf("fail at %d: publication %d is %s, want %s", failAt, i, p.Status, want)
			}
		}
		if outcomes["delivered"] != 19 || len(pub.order) != 20 {
			t.Errorf("fail at %d: outcomes %v, %d sent; want 19 delivered of 20 sent", failAt, outcomes, len(pub.order))
		}
	}
}
