package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// withRefs computes the delivery's refs as the webhook services do, before the transaction.
func withRefs(rec domain.InboxRecord) domain.InboxRecord {
	rec.Refs = domain.InboxRefs(rec.Payload, rec.Headers)
	return rec
}

// testInboxFiling: InsertInbox files a new delivery under the one known customer it names (by
// e-mail here; refs computed by the store or given by the caller), under nobody when it names
// two or none, under the customer the caller gives whatever it names; the record it returns
// says so, as the stored one does; a duplicate returns the first delivery's record.
func testInboxFiling(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := newCustomerWith(t, s, "filing.a@example.com", "", "")
	b := newCustomerWith(t, s, "filing.b@example.com", "", "")
	delivery := func(key, body, customerID string) domain.InboxRecord {
		return domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: key, EventType: "x",
			Payload: []byte(body), CustomerID: customerID}
	}
	cases := []struct {
		in   domain.InboxRecord
		want string
	}{
		{delivery("filing-one", `{"email":"Filing.A@example.com"}`, ""), a.ID},
		{delivery("filing-two", `{"to":"filing.a@example.com","cc":"filing.b@example.com"}`, ""), ""},
		{delivery("filing-none", `{"email":"stranger@example.com"}`, ""), ""},
		{delivery("filing-given", `{"email":"filing.a@example.com"}`, b.ID), b.ID},
		{withRefs(delivery("filing-refs", `{"email":"filing.a@example.com"}`, "")), a.ID}, // computed by the caller
		{withRefs(delivery("filing-no-refs", `{}`, "")), ""},
	}
	for _, c := range cases {
		var got domain.InboxRecord
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = tx.InsertInbox(ctx, c.in)
			return err
		})
		stored, err := s.GetInbox(ctx, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CustomerID != c.want || stored.CustomerID != c.want {
			t.Errorf("%s: filed under %q (stored %q), want %q", c.in.DeliveryKey, got.CustomerID, stored.CustomerID, c.want)
		}
	}
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInbox(ctx, delivery("filing-one", `{"email":"filing.b@example.com"}`, ""))
		return err
	})
	var dup *store.DuplicateInboxError
	if !errors.As(err, &dup) || dup.Existing.CustomerID != a.ID || string(dup.Existing.Payload) != `{"email":"Filing.A@example.com"}` {
		t.Fatalf("duplicate: err %v, existing %s", err, fmt.Sprint(dup))
	}
}
