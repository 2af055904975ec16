package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// DefaultMaxBatch bounds how many deliveries share one transaction.
const DefaultMaxBatch = 128

// batchTimeout bounds one shared transaction (its deliveries then run alone).
const batchTimeout = 30 * time.Second

// GroupCommit is a store whose transactions are batched: concurrent InTx calls (the webhook
// services' deliveries, each recorded with Record) run one after another inside one store
// transaction and share its commit — one fsync for many deliveries instead of one each.
// Everything else passes through to the wrapped store. A batch runs without savepoints; if a
// delivery fails, it runs again with each delivery in its own savepoint (see commit).
//
// What each delivery keeps:
//   - Durability: InTx returns only after the shared transaction committed, so the 2xx that
//     follows is still "committed before answered".
//   - Its own outcome: a delivery whose function fails is rolled back to its savepoint alone and
//     then run again in a transaction of its own (the store's retries included), so it gets
//     exactly the answer it would have had without batching and never affects the others.
//   - All or nothing: if the shared transaction cannot commit, every delivery in it runs again
//     alone. Functions may run more than once anyway (the store.Store InTx contract).
//
// The wait is bounded without a timer: a batch is whatever queued while the previous batch was
// committing (at most MaxBatch), so a lone delivery never waits for company.
//
// Events appended inside a batched transaction are appended at the end of the batch, in order,
// in a few multi-row statements (AppendEvent returns them without cursor, as Record's functions
// already expect): on
// PostgreSQL the first append takes the event-log lock until commit, and appending early would
// hold it across the whole batch.
type GroupCommit struct {
	store.Store
	maxBatch int
	reqs     chan *groupReq
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// dead is closed when a committer died (a delivery's function panicked in a batch); err
	// says why. Watch reports it to the process's supervisor.
	dead     chan struct{}
	deadOnce sync.Once
	err      error
}

// GroupCommitConfig configures NewGroupCommit.
type GroupCommitConfig struct {
	// MaxBatch bounds the deliveries per transaction (default DefaultMaxBatch).
	MaxBatch int
	// Committers is the number of batches in flight at once (default 1). SQLite has one writer,
	// so more only helps PostgreSQL, where one batch can run while another commits.
	Committers int
}

type groupReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx store.Tx) error
	done chan error // buffered: the committer never blocks on a caller
}

// NewGroupCommit starts the committers over st; Close stops them.
func NewGroupCommit(st store.Store, cfg GroupCommitConfig) *GroupCommit {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	g := &GroupCommit{Store: st, maxBatch: cfg.MaxBatch, reqs: make(chan *groupReq), stop: make(chan struct{}), dead: make(chan struct{})}
	for range cfg.Committers {
		g.wg.Go(g.commitLoop)
	}
	return g
}

// Close stops the committers after the batch each is running; later InTx calls run their own
// transactions. It does not close the wrapped store, which its owner closes afterwards.
func (g *GroupCommit) Close() error {
	g.stopOnce.Do(func() { close(g.stop) })
	g.wg.Wait()
	return nil
}

// InTx implements store.Store: fn joins the next batch.
func (g *GroupCommit) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	req := &groupReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	// The channel is unbuffered: a request is either taken by a committer, which then always
	// answers it, or never leaves this select.
	select {
	case g.reqs <- req:
		return <-req.done
	case <-g.stop:
		return g.Store.InTx(ctx, fn)
	case <-g.dead:
		return g.Store.InTx(ctx, fn)
	case <-ctx.Done():
		return fmt.Errorf("webhook: waiting to commit: %w", ctx.Err())
	}
}

func (g *GroupCommit) commitLoop() {
	for {
		var batch []*groupReq
		select {
		case <-g.stop:
			return
		case r := <-g.reqs:
			batch = append(batch, r)
		}
	collect:
		for len(batch) < g.maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		if !g.commitSafely(batch) {
			return
		}
	}
}

// commitSafely commits a batch; if a delivery's function panics, every request of the batch is
// answered with an error (none is left waiting), the committer ends and Watch reports it.
func (g *GroupCommit) commitSafely(batch []*groupReq) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			err := g.died(p)
			for _, r := range batch {
				select {
				case r.done <- err: // buffered: never blocks; a request already answered keeps its answer
				default:
				}
			}
			ok = false
		}
	}()
	g.commit(batch)
	return true
}

// died records that a delivery's function panicked in a committer and returns the error its
// caller gets; Watch reports the first such death.
func (g *GroupCommit) died(p any) error {
	err := fmt.Errorf("webhook: group commit: a delivery panicked: %v", p)
	g.deadOnce.Do(func() {
		g.err = err
		close(g.dead)
	})
	return err
}

// Watch blocks until ctx ends (nil) or a committer has died (its error): the committers are a
// background worker of the process and must not end unnoticed.
func (g *GroupCommit) Watch(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-g.dead:
		return g.err
	}
}

// errDeliveryFailed ends a shared transaction run without savepoints when one delivery failed:
// its writes cannot be undone alone, so the whole transaction is rolled back and the batch
// runs again with savepoints.
var errDeliveryFailed = errors.New("webhook: group commit: a delivery failed in a batch without savepoints")

// commit runs one batch and answers every request in it.
//
// A batch first runs without savepoints: deliveries almost never fail (a duplicate is an
// answer, not a failure), and a savepoint costs two statements per delivery — two round trips
// on PostgreSQL, two statements for the single writer on SQLite. When a delivery does fail, the
// whole transaction is rolled back and the batch runs again, each delivery in its own
// savepoint, which gives every delivery exactly its own outcome as before.
//
// A lone delivery takes the same way (its writes held back and its events appended at the end
// save it round trips too); if it fails, it simply runs again alone.
func (g *GroupCommit) commit(batch []*groupReq) {
	results, err := g.shared(batch, false)
	if errors.Is(err, errDeliveryFailed) && len(batch) > 1 {
		results, err = g.shared(batch, true)
	}
	var alone []*groupReq
	for i, r := range batch {
		switch {
		case err != nil:
			alone = append(alone, r)
		case results[i] == nil:
			r.done <- nil
		case r.ctx.Err() != nil:
			r.done <- results[i] // rolled back, and the caller has gone: nothing to retry for
		default:
			alone = append(alone, r)
		}
	}
	g.runAlone(alone)
}

// shared runs the batch in one store transaction, each delivery in its own savepoint when
// savepoints is set; without, the first failing delivery ends the transaction with
// errDeliveryFailed. results[i] is delivery i's outcome (meaningful if err is nil).
func (g *GroupCommit) shared(batch []*groupReq, savepoints bool) ([]error, error) {
	results := make([]error, len(batch))
	// The shared transaction must not end because one caller gave up: it runs without
	// cancellation, and each function sees its own caller's context values (request id, trace,
	// logger attributes) but not its cancellation — once a delivery is in a batch it commits or
	// fails with the batch; the sender retries and is answered as a duplicate.
	// batchTimeout bounds it instead, so a store that hangs releases every caller to its own
	// transaction (bounded by its own deadline) rather than holding them all.
	bctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := g.Store.InTx(bctx, func(ctx context.Context, tx store.Tx) error {
		clear(results) // the store may run this function again
		sp, ok := tx.(store.Savepointer)
		if savepoints && !ok {
			return errors.New("webhook: group commit: the store has no savepoints")
		}
		events := &batchEvents{Tx: tx}
		wb, writeBehind := tx.(store.WriteBehinder)
		if !savepoints && writeBehind {
			// Nothing is undone alone in this pass, so a write's failure may surface later: any
			// failure sends the batch to the pass with savepoints, where nothing is held back.
			wb.DeferWrites()
		}
		for i, r := range batch {
			if r.ctx.Err() != nil {
				results[i] = r.ctx.Err()
				continue
			}
			if !savepoints {
				if err := r.fn(context.WithoutCancel(r.ctx), events); err != nil {
					return errDeliveryFailed
				}
				continue
			}
			mark := len(events.pending)
			results[i] = sp.Savepoint(ctx, func(context.Context) error {
				return r.fn(context.WithoutCancel(r.ctx), events)
			})
			if results[i] != nil {
				events.pending = events.pending[:mark] // rolled back with the savepoint
				if errors.Is(results[i], store.ErrTxUnusable) {
					return results[i]
				}
			}
		}
		if err := events.flush(ctx); err != nil {
			return err
		}
		if !savepoints && writeBehind {
			if err := wb.FlushWrites(ctx); err != nil {
				return errDeliveryFailed // whose write failed is found with savepoints
			}
		}
		return nil
	})
	return results, err
}

// runAlone gives failed deliveries (or all of them, if the batch could not commit) a
// transaction of their own, concurrently, exactly as without group commit.
func (g *GroupCommit) runAlone(alone []*groupReq) {
	var wg sync.WaitGroup
	for _, r := range alone {
		wg.Go(func() {
			// This goroutine is the committer's: a panic here must not end the process
			// unannounced either (see commitSafely).
			defer func() {
				if p := recover(); p != nil {
					err := g.died(p)
					r.done <- err
				}
			}()
			r.done <- g.Store.InTx(r.ctx, r.fn)
		})
	}
	wg.Wait()
}

// batchEvents defers the events of a whole batch to its end (see GroupCommit).
type batchEvents struct {
	store.Tx
	pending []domain.Event
}

func (b *batchEvents) AppendEvent(_ context.Context, ev domain.Event) (domain.Event, error) {
	b.pending = append(b.pending, ev)
	return ev, nil
}

// flush appends the batch's events, in a few multi-row statements when the store can: on
// PostgreSQL they are written under the event-log lock, which every batch waits for, so one
// round trip per event would be paid by every committer (issue 17).
func (b *batchEvents) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	if ba, ok := b.Tx.(store.EventBatchAppender); ok {
		if err := ba.AppendEvents(ctx, b.pending); err != nil {
			return fmt.Errorf("webhook: group commit: append %d events: %w", len(b.pending), err)
		}
		return nil
	}
	for _, ev := range b.pending {
		if _, err := b.Tx.AppendEvent(ctx, ev); err != nil {
			return fmt.Errorf("webhook: group commit: append %s event: %w", ev.Type, err)
		}
	}
	return nil
}
