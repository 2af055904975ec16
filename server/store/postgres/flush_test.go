package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// TestCommitWithoutFlush: a store.WithoutFlush transaction (synchronous_commit off for that
// transaction only) commits like any other — visible from another replica's pool at once,
// rolled back on error — and the connections it ran on serve ordinary transactions after it.
func TestCommitWithoutFlush(t *testing.T) {
	dsn := freshSchema(t)
	s, other := openDSN(t, dsn), openDSN(t, dsn)
	ctx := context.Background()
	enqueue := func(ctx context.Context, corr string, fail error) (domain.Publication, error) {
		var p domain.Publication
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			p, err = tx.EnqueuePublication(ctx, domain.Publication{
				Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "t"},
				EventType:   "case_created", CorrelationID: corr, Payload: []byte(`{"eventType":"case_created"}`),
			})
			if err != nil {
				return err
			}
			return fail
		})
		return p, err
	}
	for i := range 5 { // more than one pooled connection, each used with and without flush
		p, err := enqueue(store.WithoutFlush(ctx), "without", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := other.GetPublication(ctx, p.ID); err != nil || got.CorrelationID != "without" {
			t.Fatalf("round %d: other replica reads %+v, %v; want the committed publication", i, got, err)
		}
		if _, err := enqueue(ctx, "with", nil); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	if _, err := enqueue(store.WithoutFlush(ctx), "rolled back", boom); !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	stats, err := other.OutboxStats(ctx)
	if err != nil || stats.Pending != 10 {
		t.Fatalf("OutboxStats = %+v, %v; want 10 pending (the rolled-back one absent)", stats, err)
	}
}
