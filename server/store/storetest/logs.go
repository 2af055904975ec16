package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func testInbox(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	in := domain.InboxRecord{
		Partner: domain.PartnerEtvas, DeliveryKey: "evt-1", EventType: "product.purchased",
		Payload: []byte("{\"id\":\"evt-1\",\n \"raw\": true}"), Headers: map[string]string{"x-etvas-signature": "abc"},
	}
	var rec domain.InboxRecord
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		rec, err = tx.InsertInbox(ctx, in)
		if err != nil {
			return err
		}
		rec.State = domain.InboxProcessed
		rec.Response = []byte(`{"status":200}`)
		return tx.UpdateInbox(ctx, rec)
	})
	got, err := s.FindInbox(ctx, domain.PartnerEtvas, "evt-1")
	noErr(t, err)
	if !reflect.DeepEqual(got, rec) || string(got.Payload) != string(in.Payload) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, rec)
	}

	// The same delivery again: ErrDuplicate carrying the stored response, and
	// the transaction stays usable (the handler answers from it and commits).
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: "evt-1", Payload: []byte("{}")})
		wantErr(t, err, store.ErrDuplicate)
		var dup *store.DuplicateInboxError
		if !errors.As(err, &dup) || dup.Existing.ID != rec.ID || string(dup.Existing.Response) != `{"status":200}` {
			t.Fatalf("duplicate error %v does not carry the stored record", err)
		}
		_, err = tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: "evt-2", Payload: []byte("{}")})
		return err
	})
	if _, err := s.FindInbox(ctx, domain.PartnerEtvas, "evt-2"); err != nil {
		t.Fatalf("insert after a duplicate in the same transaction was lost: %v", err)
	}
	// The key is per partner.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerAvata, DeliveryKey: "evt-1", Payload: []byte("{}")})
		return err
	})
	lists := []struct {
		f    store.InboxFilter
		want []string
	}{
		{store.InboxFilter{}, []string{"etvas/evt-1", "etvas/evt-2", "avata/evt-1"}},
		{store.InboxFilter{Partner: domain.PartnerAvata}, []string{"avata/evt-1"}},
		{store.InboxFilter{State: domain.InboxReceived}, []string{"etvas/evt-2", "avata/evt-1"}},
		{store.InboxFilter{State: domain.InboxProcessed, Partner: domain.PartnerEtvas}, []string{"etvas/evt-1"}},
		{store.InboxFilter{State: domain.InboxFailed}, nil},
	}
	for _, l := range lists {
		var got []string
		req := store.PageRequest{Size: 1}
		for {
			page, err := s.ListInbox(ctx, l.f, req)
			noErr(t, err)
			for _, r := range page.Items {
				got = append(got, string(r.Partner)+"/"+r.DeliveryKey)
			}
			if page.Next == "" {
				break
			}
			req.After = page.Next
		}
		if !reflect.DeepEqual(got, l.want) {
			t.Fatalf("ListInbox(%+v) = %v, want %v", l.f, got, l.want)
		}
	}
	bad := []domain.InboxRecord{{Partner: domain.PartnerEtvas}, {DeliveryKey: "x"}}
	for _, b := range bad {
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.InsertInbox(ctx, b); return err })
		if err == nil {
			t.Fatalf("InsertInbox(%+v) succeeded", b)
		}
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateInbox(ctx, domain.InboxRecord{ID: "missing", State: domain.InboxFailed})
	})
	wantErr(t, err, store.ErrNotFound)
}

func testInboxConcurrent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerAvata, DeliveryKey: "same",
					Payload: []byte(strconv.Itoa(i))})
				if err != nil {
					return err
				}
				_, err = tx.AppendEvent(ctx, domain.Event{Type: "policy.activated", Subject: "policies/x", Data: []byte(`{}`)})
				return err
			})
		}()
	}
	wg.Wait()
	var ok int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrDuplicate):
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d deliveries of one key were accepted", ok)
	}
	page, err := s.ListEvents(ctx, store.EventFilter{})
	noErr(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("duplicate deliveries had %d effects", len(page.Items))
	}
}

func appendEvents(t *testing.T, s store.Store, evs ...domain.Event) []domain.Event {
	t.Helper()
	out := make([]domain.Event, len(evs))
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, e := range evs {
			var err error
			if out[i], err = tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

func testEvents(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	cur, err := s.LatestCursor(ctx)
	noErr(t, err)
	if cur != 0 {
		t.Fatalf("empty log cursor = %d", cur)
	}
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	evs := appendEvents(t, s,
		domain.Event{Type: domain.EventPolicyActivated, Subject: "policies/a", Partner: domain.PartnerEtvas, Data: []byte(`{"n":1}`), Time: at},
		domain.Event{Type: domain.EventPolicySuspended, Subject: "policies/a", Partner: domain.PartnerEtvas, Data: []byte(`{"n":2}`)},
		domain.Event{Type: domain.EventClaimApproved, Subject: "claims/b", Partner: domain.PartnerAvata},
	)
	evs = append(evs, appendEvents(t, s,
		domain.Event{Type: domain.EventPolicyActivated, Subject: "policies/c", Partner: domain.PartnerAvata, Data: []byte(`{"n":4}`)})...)
	for i := 1; i < len(evs); i++ {
		if evs[i].Cursor <= evs[i-1].Cursor {
			t.Fatalf("cursors not increasing: %d then %d", evs[i-1].Cursor, evs[i].Cursor)
		}
	}
	if !evs[0].Time.Equal(at) || evs[2].ID == "" || string(evs[2].Data) != "{}" {
		t.Fatalf("appended events: %+v", evs)
	}
	cur, err = s.LatestCursor(ctx)
	noErr(t, err)
	if cur != evs[3].Cursor {
		t.Fatalf("latest cursor %d, want %d", cur, evs[3].Cursor)
	}
	all, err := s.ListEvents(ctx, store.EventFilter{})
	noErr(t, err)
	if !reflect.DeepEqual(all.Items, evs) || all.Next != "" {
		t.Fatalf("list:\n got %+v\nwant %+v", all.Items, evs)
	}
	tests := []struct {
		name string
		f    store.EventFilter
		want []int
	}{
		{"after first", store.EventFilter{AfterCursor: evs[0].Cursor}, []int{1, 2, 3}},
		{"after last", store.EventFilter{AfterCursor: evs[3].Cursor}, nil},
		{"type", store.EventFilter{Types: []string{domain.EventPolicyActivated}}, []int{0, 3}},
		{"types", store.EventFilter{Types: []string{domain.EventPolicySuspended, domain.EventClaimApproved}}, []int{1, 2}},
		{"subject", store.EventFilter{Subject: "policies/a"}, []int{0, 1}},
		{"partner", store.EventFilter{Partner: domain.PartnerAvata}, []int{2, 3}},
		{"type+partner after", store.EventFilter{Types: []string{domain.EventPolicyActivated}, Partner: domain.PartnerAvata, AfterCursor: evs[0].Cursor}, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.ListEvents(ctx, tt.f)
			noErr(t, err)
			var want []domain.Event
			for _, i := range tt.want {
				want = append(want, evs[i])
			}
			if !reflect.DeepEqual(page.Items, want) {
				t.Fatalf("got %+v\nwant %+v", page.Items, want)
			}
		})
	}
	// Paging by cursor.
	var got []domain.Event
	f := store.EventFilter{PageSize: 3}
	for {
		page, err := s.ListEvents(ctx, f)
		noErr(t, err)
		got = append(got, page.Items...)
		if page.Next == "" {
			break
		}
		f.AfterCursor, err = strconv.ParseInt(page.Next, 10, 64)
		noErr(t, err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("paged events differ")
	}
	bad := []domain.Event{{Subject: "x"}, {Type: "x"}, {Type: "x", Subject: "y", Data: []byte("{not json")}}
	for _, e := range bad {
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.AppendEvent(ctx, e); return err })
		if err == nil {
			t.Fatalf("AppendEvent(%+v) succeeded", e)
		}
	}
}

// testEventCursorConcurrent proves cursors are commit-ordered: writers append
// in transactions that linger after taking their cursor, while a reader
// follows with "after cursor". A cursor committed out of order would be
// skipped by the reader and reported missing.
func testEventCursorConcurrent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const writers, perWriter = 6, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[string]bool{}
	writeErrs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < perWriter; {
				batch := 1 + rng.IntN(3)
				var ids []string
				err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					ids = ids[:0]
					for j := 0; j < batch; j++ {
						e, err := tx.AppendEvent(ctx, domain.Event{Type: "test.appended", Subject: fmt.Sprintf("writers/%d", w),
							Data: []byte(fmt.Sprintf(`{"i":%d}`, i+j))})
						if err != nil {
							return err
						}
						ids = append(ids, e.ID)
					}
					// Linger between taking cursors and committing so that
					// commit order and cursor order would differ if the
					// engine did not serialize appenders.
					time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
					return nil
				})
				if err != nil {
					writeErrs <- err
					return
				}
				mu.Lock()
				for _, id := range ids {
					written[id] = true
				}
				mu.Unlock()
				i += batch
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]bool{}
	var last int64
	finished := false
	for {
		select {
		case <-done:
			finished = true
		default:
		}
		page, err := s.ListEvents(ctx, store.EventFilter{AfterCursor: last, PageSize: 7})
		noErr(t, err)
		for _, e := range page.Items {
			if e.Cursor <= last {
				t.Fatalf("cursor %d after %d", e.Cursor, last)
			}
			if seen[e.ID] {
				t.Fatalf("event %s seen twice", e.ID)
			}
			seen[e.ID] = true
			last = e.Cursor
		}
		// Stop only after a full read that started once every writer was done.
		if finished && len(page.Items) == 0 {
			break
		}
	}
	close(writeErrs)
	for err := range writeErrs {
		t.Fatal(err)
	}
	if len(written) < writers*perWriter {
		t.Fatalf("only %d events written", len(written))
	}
	for id := range written {
		if !seen[id] {
			t.Fatalf("reader following the cursor missed event %s (seen %d of %d)", id, len(seen), len(written))
		}
	}
	if len(seen) != len(written) {
		t.Fatalf("reader saw %d events, %d were written", len(seen), len(written))
	}
}

func testNotifier(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ch, cancel := s.Subscribe(ctx)
	defer cancel()
	for i := range 3 {
		e := appendEvents(t, s, domain.Event{Type: "test.notified", Subject: "n/" + strconv.Itoa(i)})[0]
		// Wait for a wake-up, then the committed event must be readable.
		for found := false; !found; {
			select {
			case _, ok := <-ch:
				if !ok {
					t.Fatal("subscription closed")
				}
			case <-ctx.Done():
				t.Fatalf("no notification for event %d: %v", i, ctx.Err())
			}
			page, err := s.ListEvents(ctx, store.EventFilter{AfterCursor: e.Cursor - 1})
			noErr(t, err)
			found = len(page.Items) == 1 && page.Items[0].ID == e.ID
		}
	}
	cancel()
	// cancel closes the channel before returning; only pending signals may
	// precede the close.
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			t.Fatal("channel still open after cancel")
		}
	}
}

func testCheckpoints(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	_, err := s.GetCheckpoint(ctx, "scalepoint/events")
	wantErr(t, err, store.ErrNotFound)
	for _, v := range []string{"41", "42"} {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.SetCheckpoint(ctx, "scalepoint/events", v)
			return err
		})
		c, err := s.GetCheckpoint(ctx, "scalepoint/events")
		noErr(t, err)
		if c.Value != v || c.UpdateTime.IsZero() {
			t.Fatalf("checkpoint %+v, want %s", c, v)
		}
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	boom := errors.New("boom")
	var id string
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindBooking})
		if err != nil {
			return err
		}
		id = p.ID
		if _, err := tx.AppendEvent(ctx, domain.Event{Type: "x", Subject: "y"}); err != nil {
			return err
		}
		if _, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: "rolled-back"}); err != nil {
			return err
		}
		return fmt.Errorf("handler: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	_, err = s.GetPolicy(ctx, id)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.FindInbox(ctx, domain.PartnerEtvas, "rolled-back")
	wantErr(t, err, store.ErrNotFound)
	page, err := s.ListEvents(ctx, store.EventFilter{})
	noErr(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("rolled back event visible: %+v", page.Items)
	}
}
