package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// testSavepoint: a failing savepoint undoes only its own writes (including a failed statement,
// which on PostgreSQL aborts the transaction unless rolled back to the savepoint) and returns
// fn's error; a passing one keeps them; events appended after a rolled-back append still get
// cursors in order (on PostgreSQL the rollback also released the event-log lock).
func testSavepoint(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	boom := errors.New("boom")
	inbox := func(key string) domain.InboxRecord {
		return domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: key, EventType: "x", Payload: []byte(`{}`)}
	}
	event := func(subject string) domain.Event {
		return domain.Event{Type: domain.EventPolicyActivated, Subject: subject, Partner: domain.PartnerEtvas}
	}
	var results []error
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		results = results[:0]
		sp, ok := tx.(store.Savepointer)
		if !ok {
			t.Fatalf("%T does not implement store.Savepointer", tx)
		}
		steps := []func(ctx context.Context) error{
			func(ctx context.Context) error { // kept
				_, err := tx.InsertInbox(ctx, inbox("kept-1"))
				return err
			},
			func(ctx context.Context) error { // undone: writes, appends, then fails
				if _, err := tx.InsertInbox(ctx, inbox("undone")); err != nil {
					return err
				}
				if _, err := tx.AppendEvent(ctx, event("undone")); err != nil {
					return err
				}
				return boom
			},
			func(ctx context.Context) error { // undone: a statement error (unique violation)
				if _, err := tx.InsertInbox(ctx, inbox("undone-2")); err != nil {
					return err
				}
				p := domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, Status: domain.PolicyActive, EtvasContextID: "sp-ctx"}
				if _, err := tx.CreatePolicy(ctx, p); err != nil {
					return err
				}
				_, err := tx.CreatePolicy(ctx, p)
				return err
			},
			func(ctx context.Context) error { // kept, after the failures
				if _, err := tx.InsertInbox(ctx, inbox("kept-2")); err != nil {
					return err
				}
				_, err := tx.AppendEvent(ctx, event("kept"))
				return err
			},
		}
		for _, step := range steps {
			results = append(results, sp.Savepoint(ctx, step))
		}
		return nil
	})
	if results[0] != nil || results[3] != nil {
		t.Fatalf("passing savepoints returned %v, %v", results[0], results[3])
	}
	if !errors.Is(results[1], boom) || errors.Is(results[1], store.ErrTxUnusable) {
		t.Fatalf("failing savepoint returned %v, want boom", results[1])
	}
	if results[2] == nil || errors.Is(results[2], store.ErrTxUnusable) {
		t.Fatalf("savepoint with a unique violation returned %v", results[2])
	}
	for key, want := range map[string]bool{"kept-1": true, "kept-2": true, "undone": false, "undone-2": false} {
		_, err := s.FindInbox(ctx, domain.PartnerEtvas, key)
		if got := err == nil; got != want {
			t.Errorf("inbox %q present = %v, want %v (err %v)", key, got, want, err)
		}
	}
	if _, err := s.FindPolicyByEtvasContextID(ctx, "sp-ctx"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("policy of a rolled-back savepoint: err = %v, want not found", err)
	}
	page, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Subject != "kept" {
		t.Fatalf("events = %+v, want only the kept one", page.Items)
	}
}

// testSavepointNested: an enclosing savepoint that fails undoes the nested ones that passed, one
// that passes keeps them, and savepoints opened after either still work — with writes between
// savepoints and after the last one kept too.
func testSavepointNested(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	boom := errors.New("boom")
	put := func(ctx context.Context, tx store.Tx, key string) error {
		_, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: key, EventType: "x", Payload: []byte(`{}`)})
		return err
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		sp := tx.(store.Savepointer)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(sp.Savepoint(ctx, func(ctx context.Context) error { return put(ctx, tx, "n-kept-1") }))
		err := sp.Savepoint(ctx, func(ctx context.Context) error { // fails after two nested passes
			must(sp.Savepoint(ctx, func(ctx context.Context) error { return put(ctx, tx, "n-undone-inner-1") }))
			must(sp.Savepoint(ctx, func(ctx context.Context) error { return put(ctx, tx, "n-undone-inner-2") }))
			return boom
		})
		if !errors.Is(err, boom) || errors.Is(err, store.ErrTxUnusable) {
			t.Fatalf("failing enclosing savepoint returned %v", err)
		}
		must(sp.Savepoint(ctx, func(ctx context.Context) error { // passes with a nested pass
			if err := put(ctx, tx, "n-kept-outer"); err != nil {
				return err
			}
			return sp.Savepoint(ctx, func(ctx context.Context) error { return put(ctx, tx, "n-kept-inner") })
		}))
		must(put(ctx, tx, "n-kept-between"))
		err = sp.Savepoint(ctx, func(ctx context.Context) error {
			if err := put(ctx, tx, "n-undone-last"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failing savepoint returned %v", err)
		}
		must(sp.Savepoint(ctx, func(ctx context.Context) error { return put(ctx, tx, "n-kept-last") }))
		return put(ctx, tx, "n-kept-after")
	})
	for key, want := range map[string]bool{
		"n-kept-1": true, "n-undone-inner-1": false, "n-undone-inner-2": false, "n-kept-outer": true, "n-kept-inner": true,
		"n-kept-between": true, "n-undone-last": false, "n-kept-last": true, "n-kept-after": true,
	} {
		_, err := s.FindInbox(ctx, domain.PartnerEtvas, key)
		if got := err == nil; got != want {
			t.Errorf("inbox %q present = %v, want %v (err %v)", key, got, want, err)
		}
	}
}
