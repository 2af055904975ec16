package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// flushAudit records, for every transaction, whether it committed without a flush and what it
// wrote (claims or outcomes).
type flushAudit struct {
	store.Store
	mu  sync.Mutex
	txs []auditedTx
}

type auditedTx struct {
	withoutFlush     bool
	claims, outcomes int
}

func (s *flushAudit) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	rec := &auditedTx{withoutFlush: store.FlushSkipped(ctx)}
	err := s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		*rec = auditedTx{withoutFlush: rec.withoutFlush}
		return fn(ctx, countingTx{Tx: tx, rec: rec})
	})
	s.mu.Lock()
	s.txs = append(s.txs, *rec)
	s.mu.Unlock()
	return err
}

type countingTx struct {
	store.Tx
	rec *auditedTx
}

func (t countingTx) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]domain.Publication, error) {
	t.rec.claims++
	return t.Tx.ClaimDue(ctx, owner, now, lease, limit)
}

func (t countingTx) MarkDelivered(ctx context.Context, id, owner string, partnerEventID string, now time.Time) error {
	t.rec.outcomes++
	return t.Tx.MarkDelivered(ctx, id, owner, partnerEventID, now)
}

func (t countingTx) MarkRetry(ctx context.Context, id, owner string, next time.Time, lastError string, now time.Time) error {
	t.rec.outcomes++
	return t.Tx.MarkRetry(ctx, id, owner, next, lastError, now)
}

// TestOutcomesCommitWithoutFlushClaimsWithFlush: each delivery outcome is its own commit, made
// before the next send (the re-send window, TestResendWindowIsTheInFlightSends) but without
// waiting for an fsync, which paced the whole queue at one disk flush per publication; the
// claim that starts each round is an ordinary, flushed commit, so a power cut can cost at most
// one round of outcomes (sent again, at least once) and never a lease. If outcomes went back
// to flushed commits, or claims stopped being flushed, this fails.
func TestOutcomesCommitWithoutFlushClaimsWithFlush(t *testing.T) {
	f := newFixture(t)
	ids := f.enqueue(t, 12)
	audit := &flushAudit{Store: f.store}
	pub := &publisher{script: []error{nil, partnerErr(503, "busy", 0)}}
	w := f.worker(pub, "w")
	w.Store, w.Concurrency, w.Batch = audit, 1, 5
	for _, want := range []int{5, 5, 2} {
		runOnce(t, w, want)
	}
	claims, outcomes := 0, 0
	for i, tx := range audit.txs {
		switch {
		case tx.claims == 1 && tx.outcomes == 0:
			claims++
			if tx.withoutFlush {
				t.Errorf("transaction %d (a claim) committed without a flush", i)
			}
		case tx.claims == 0 && tx.outcomes == 1:
			outcomes++
			if !tx.withoutFlush {
				t.Errorf("transaction %d (one outcome) waited for a flush", i)
			}
		default:
			t.Errorf("transaction %d wrote %d claims and %d outcomes, want one claim or one outcome", i, tx.claims, tx.outcomes)
		}
	}
	if claims != 3 || outcomes != len(ids) {
		t.Errorf("%d claim and %d outcome transactions, want 3 and %d", claims, outcomes, len(ids))
	}
	// The outcomes committed without a flush are committed: every worker sees them.
	delivered := 0
	for _, id := range ids {
		switch p := f.get(t, id); p.Status {
		case domain.PublicationDelivered:
			delivered++
		case domain.PublicationPending:
			if p.LeaseOwner != "" || p.LastError == "" {
				t.Errorf("publication %s: PENDING with lease %q, last error %q; want a recorded retry", id, p.LeaseOwner, p.LastError)
			}
		default:
			t.Errorf("publication %s is %s", id, p.Status)
		}
	}
	if delivered != len(ids)-1 {
		t.Errorf("%d delivered, want %d (one retry)", delivered, len(ids)-1)
	}
}
