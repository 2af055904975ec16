package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

// engines are the stores group commit runs on: SQLite in a temp dir and a fresh PostgreSQL
// schema.
var engines = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/gc.db" }},
	{"postgres", func(t *testing.T) string { return pgtest.FreshDSN(t) }},
}

func openEngine(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// delivery is a unit of work shaped like Record's: an inbox row and an event.
type delivery struct {
	key  string
	fail error // returned after the writes
	data []byte
	// policyCtx, when set, makes the delivery also create a policy for that Etvas context: a
	// second one for the same context fails with a unique violation, a write PostgreSQL holds
	// back in the pass without savepoints (its failure surfaces at a later statement).
	policyCtx string
	calls     atomic.Int32
}

func (d *delivery) fn(ctx context.Context, tx store.Tx) error {
	d.calls.Add(1)
	rec, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: d.key, EventType: "bench", Payload: []byte(`{}`)})
	if err != nil {
		return err
	}
	if _, err := tx.AppendEvent(ctx, domain.Event{Type: "delivery.recorded", Subject: d.key, Partner: domain.PartnerEtvas, Data: d.data}); err != nil {
		return err
	}
	_ = rec
	if d.policyCtx != "" {
		if _, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct,
			Status: domain.PolicySuspended, EtvasContextID: d.policyCtx}); err != nil {
			return err
		}
	}
	return d.fail
}

// batchCase is a batch run by TestGroupCommitBatch.
type batchCase struct {
	name string
	// deliveries of the batch; ctxs[i] overrides the context of delivery i
	deliveries []*delivery
	ctxs       map[int]context.Context
	wantErr    []error  // per delivery: nil, or errors.Is target
	wantCalls  []int32  // nil: not checked
	wantStored []string // keys with an inbox row, and events in this order
	unordered  bool     // deliveries rerun alone run concurrently: any order
}

// TestGroupCommitBatch runs batches directly (no committer goroutine, so the batch's makeup is
// exact) and checks each delivery's own outcome and what is stored.
func TestGroupCommitBatch(t *testing.T) {
	boom := errors.New("boom")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []batchCase{
		{
			name:       "all succeed, one transaction",
			deliveries: []*delivery{{key: "a"}, {key: "b"}, {key: "c"}},
			wantErr:    []error{nil, nil, nil},
			wantCalls:  []int32{1, 1, 1},
			wantStored: []string{"a", "b", "c"},
		},
		{
			// Calls: the batch runs without savepoints until "bad" fails (a, bad), again with
			// savepoints (a, bad, c), then "bad" alone.
			name:       "a failing delivery is undone alone, then retried alone",
			deliveries: []*delivery{{key: "a"}, {key: "bad", fail: boom}, {key: "c"}},
			wantErr:    []error{nil, boom, nil},
			wantCalls:  []int32{2, 3, 1},
			wantStored: []string{"a", "c"},
		},
		{
			name:       "a duplicate inside the batch fails only itself",
			deliveries: []*delivery{{key: "a"}, {key: "a"}, {key: "c"}},
			wantErr:    []error{nil, store.ErrDuplicate, nil},
			wantCalls:  []int32{2, 3, 1},
			wantStored: []string{"a", "c"},
		},
		{
			name:       "a lone delivery commits in one pass",
			deliveries: []*delivery{{key: "solo"}},
			wantErr:    []error{nil},
			wantCalls:  []int32{1},
			wantStored: []string{"solo"},
		},
		{
			// Once with its writes held back, then alone in a plain transaction.
			name:       "a lone delivery that fails runs again alone",
			deliveries: []*delivery{{key: "solo-bad", fail: boom}},
			wantErr:    []error{boom},
			wantCalls:  []int32{2},
			wantStored: nil,
		},
		manyWithFailures(boom),
		{
			// On PostgreSQL the second policy's INSERT is held back and fails at the flush
			// before the events; on SQLite at once: the same outcome and calls either way.
			name:       "a held-back write that fails at the end fails only its delivery",
			deliveries: []*delivery{{key: "a"}, {key: "p1", policyCtx: "ctx-x"}, {key: "p2", policyCtx: "ctx-x"}},
			wantErr:    []error{nil, nil, store.ErrDuplicate},
			wantCalls:  []int32{2, 2, 3},
			wantStored: []string{"a", "p1"},
		},
		{
			// On PostgreSQL p2's failure surfaces in the next delivery's first statement; the
			// pass with savepoints still gives each delivery its own outcome (calls differ by
			// engine, so they are not checked).
			name:       "a held-back write that fails in the middle fails only its delivery",
			deliveries: []*delivery{{key: "a"}, {key: "p1", policyCtx: "ctx-y"}, {key: "p2", policyCtx: "ctx-y"}, {key: "d"}},
			wantErr:    []error{nil, nil, store.ErrDuplicate, nil},
			wantStored: []string{"a", "p1", "d"},
		},
		{
			// 75 events: multi-row statements of 32, 32, 8, 2 and 1 rows, cursors in order.
			name:       "a large batch keeps its events in order",
			deliveries: keyed(75, nil),
			wantErr:    make([]error, 75),
			wantCalls:  repeat(75, 1),
			wantStored: keys(75, nil),
		},
		{
			name:       "a caller that gave up before its turn is not run",
			deliveries: []*delivery{{key: "a"}, {key: "gone"}, {key: "c"}},
			ctxs:       map[int]context.Context{1: canceled},
			wantErr:    []error{nil, context.Canceled, nil},
			wantCalls:  []int32{1, 0, 1},
			wantStored: []string{"a", "c"},
		},
		{
			name: "a batch that cannot commit is rerun one delivery per transaction",
			// Invalid event data only fails when the batch's events are appended at its end.
			deliveries: []*delivery{{key: "a"}, {key: "bad-event", data: []byte("{not json")}, {key: "c"}},
			wantErr:    []error{nil, errors.New("any"), nil},
			wantCalls:  []int32{2, 2, 2},
			wantStored: []string{"a", "c"},
			unordered:  true,
		},
	}
	for _, eng := range engines {
		for _, tt := range tests {
			t.Run(eng.name+"/"+tt.name, func(t *testing.T) {
				st := openEngine(t, eng.dsn(t))
				g := &GroupCommit{Store: st, maxBatch: DefaultMaxBatch}
				// Fresh deliveries per engine: they count their calls.
				deliveries := make([]*delivery, len(tt.deliveries))
				batch := make([]*groupReq, len(tt.deliveries))
				for i, d := range tt.deliveries {
					d = &delivery{key: d.key, fail: d.fail, data: d.data, policyCtx: d.policyCtx}
					deliveries[i] = d
					ctx := context.Background()
					if c, ok := tt.ctxs[i]; ok {
						ctx = c
					}
					batch[i] = &groupReq{ctx: ctx, fn: d.fn, done: make(chan error, 1)}
				}
				g.commit(batch)
				for i, r := range batch {
					err := <-r.done
					switch want := tt.wantErr[i]; {
					case want == nil && err != nil:
						t.Errorf("delivery %d: %v", i, err)
					case want != nil && err == nil:
						t.Errorf("delivery %d succeeded, want %v", i, want)
					case want != nil && want.Error() != "any" && !errors.Is(err, want):
						t.Errorf("delivery %d: %v, want %v", i, err, want)
					}
					if tt.wantCalls == nil {
						continue
					}
					if got := deliveries[i].calls.Load(); got != tt.wantCalls[i] {
						t.Errorf("delivery %d ran %d times, want %d", i, got, tt.wantCalls[i])
					}
				}
				assertStored(t, st, tt.wantStored, tt.unordered)
			})
		}
	}
}

// keyed returns n deliveries d-00, d-01, ...; fail[i] makes delivery i fail with that error.
func keyed(n int, fail map[int]error) []*delivery {
	out := make([]*delivery, n)
	for i := range out {
		out[i] = &delivery{key: fmt.Sprintf("d-%02d", i), fail: fail[i]}
	}
	return out
}

// keys are the keys of keyed(n) without the failing ones.
func keys(n int, fail map[int]error) []string {
	var out []string
	for i := range n {
		if fail[i] == nil {
			out = append(out, fmt.Sprintf("d-%02d", i))
		}
	}
	return out
}

func repeat(n int, v int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// manyWithFailures is a batch of 40 deliveries where the first, one in the middle and the last
// fail: each failing one gets its own error and no effect, every other one commits once in the
// shared transaction (after the pass without savepoints stopped at the first failure).
func manyWithFailures(boom error) batchCase {
	const n = 40
	fail := map[int]error{0: boom, 17: boom, n - 1: boom}
	wantErr := make([]error, n)
	wantCalls := repeat(n, 1) // the pass without savepoints stopped at delivery 0
	for i := range fail {
		wantErr[i] = boom
		wantCalls[i] = 2 // in its savepoint, then alone
	}
	wantCalls[0] = 3 // also the pass without savepoints
	return batchCase{name: "failures among many deliveries are each undone alone", deliveries: keyed(n, fail),
		wantErr: wantErr, wantCalls: wantCalls, wantStored: keys(n, fail)}
}

// assertStored checks the inbox holds exactly keys and the events follow in that order (any
// order if unordered).
func assertStored(t *testing.T, st store.Store, keys []string, unordered bool) {
	t.Helper()
	ctx := context.Background()
	inbox, err := st.ListInbox(ctx, store.InboxFilter{}, store.PageRequest{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range inbox.Items {
		got = append(got, r.DeliveryKey)
	}
	if unordered {
		slices.Sort(got)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Errorf("inbox = %v, want %v", got, keys)
	}
	events, err := st.ListEvents(ctx, store.EventFilter{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range events.Items {
		got = append(got, e.Subject)
	}
	if unordered {
		slices.Sort(got)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Errorf("events = %v, want %v", got, keys)
	}
}

// TestGroupCommitRecord sends concurrent deliveries, some twice, through Record with the
// committers running: each is applied exactly once, a repeat is answered as a duplicate with
// the first answer, and after Close the store still records (one transaction per delivery).
func TestGroupCommitRecord(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			st := openEngine(t, eng.dsn(t))
			g := NewGroupCommit(st, GroupCommitConfig{MaxBatch: 8, Committers: 2})
			const distinct, senders = 60, 3 // every delivery is sent by 3 senders at once
			apply := func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (Outcome, error) {
				if _, err := tx.AppendEvent(ctx, domain.Event{Type: "delivery.recorded", Subject: rec.DeliveryKey, Partner: domain.PartnerEtvas}); err != nil {
					return Outcome{}, err
				}
				r, _ := structpb.NewStruct(map[string]any{"delivery": rec.ID})
				return Outcome{State: domain.InboxProcessed, Response: r}, nil
			}
			type answer struct {
				dup bool
				id  string
			}
			answers := make([][]answer, distinct)
			var mu sync.Mutex
			var wg sync.WaitGroup
			errs := make(chan error, distinct*senders)
			for i := range distinct {
				for range senders {
					wg.Go(func() {
						key := fmt.Sprintf("k-%03d", i)
						in := Inbound{Delivery: Delivery{Partner: domain.PartnerEtvas, Raw: []byte(`{}`)}, DeliveryKey: key, EventType: "bench"}
						var resp structpb.Struct
						res, err := Record(context.Background(), g, in, &resp, apply)
						if err != nil {
							errs <- fmt.Errorf("%s: %w", key, err)
							return
						}
						mu.Lock()
						answers[i] = append(answers[i], answer{res.Duplicate, resp.Fields["delivery"].GetStringValue()})
						mu.Unlock()
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for i, as := range answers {
				first := 0
				for _, a := range as {
					if !a.dup {
						first++
					}
					if a.id == "" || a.id != as[0].id {
						t.Errorf("key %d: answers %+v do not all name the same delivery", i, as)
					}
				}
				if first != 1 || len(as) != senders {
					t.Errorf("key %d: %d first answers of %d, want 1 of %d", i, first, len(as), senders)
				}
			}
			inbox, err := st.ListInbox(context.Background(), store.InboxFilter{}, store.PageRequest{Size: 1000})
			if err != nil || len(inbox.Items) != distinct {
				t.Fatalf("inbox holds %d deliveries (%v), want %d", len(inbox.Items), err, distinct)
			}
			events, err := st.ListEvents(context.Background(), store.EventFilter{PageSize: 1000})
			if err != nil || len(events.Items) != distinct {
				t.Fatalf("%d events (%v), want one per delivery: %d", len(events.Items), err, distinct)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			in := Inbound{Delivery: Delivery{Partner: domain.PartnerEtvas, Raw: []byte(`{}`)}, DeliveryKey: "after-close", EventType: "bench"}
			var resp structpb.Struct
			if res, err := Record(context.Background(), g, in, &resp, apply); err != nil || res.Duplicate {
				t.Fatalf("after Close: %+v %v", res, err)
			}
		})
	}
}
