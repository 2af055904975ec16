package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func createCall(t *testing.T, s store.Store, c domain.PartnerCall) (domain.PartnerCall, error) {
	t.Helper()
	var out domain.PartnerCall
	err := s.InTx(ctxFor(t), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.CreatePartnerCall(ctx, c)
		return err
	})
	return out, err
}

// testPartnerCalls: an intent is recorded PENDING with its request, one PENDING call per dedupe
// key, optimistic updates, settled calls free the key, due calls are listed by check time.
func testPartnerCalls(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	now := time.Now().UTC().Truncate(time.Second)
	first, err := createCall(t, s, domain.PartnerCall{
		Partner: domain.PartnerAvata, Operation: domain.OpAvataConfirm, Subject: "policies/p-1",
		DedupeKey: "avata.confirm:q-1", RequestHash: "h-1", Request: []byte(`{"proposal":"x"}`),
		NextCheckTime: now.Add(time.Minute),
	})
	noErr(t, err)
	if first.ID == "" || first.State != domain.PartnerCallPending || first.Version != 1 {
		t.Fatalf("created: %+v", first)
	}
	got, err := s.GetPartnerCall(ctx, first.ID)
	noErr(t, err)
	if got.DedupeKey != "avata.confirm:q-1" || string(got.Request) != `{"proposal":"x"}` || got.RequestHash != "h-1" ||
		got.Subject != "policies/p-1" || got.Operation != domain.OpAvataConfirm || !got.NextCheckTime.Equal(now.Add(time.Minute)) {
		t.Fatalf("read back: %+v", got)
	}
	// A second pending attempt of the same operation is refused, in a transaction that stays usable.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreatePartnerCall(ctx, domain.PartnerCall{Partner: domain.PartnerAvata, Operation: domain.OpAvataConfirm, DedupeKey: "avata.confirm:q-1"})
		wantErr(t, err, store.ErrDuplicate)
		_, err = tx.CreatePartnerCall(ctx, domain.PartnerCall{Partner: domain.PartnerAvata, Operation: domain.OpAvataConfirm, DedupeKey: "avata.confirm:q-2", NextCheckTime: now.Add(-time.Second)})
		return err
	})

	// Due: only PENDING calls whose check time has passed, oldest check first.
	due, err := s.ListDuePartnerCalls(ctx, now, 10)
	noErr(t, err)
	if len(due) != 1 || due[0].DedupeKey != "avata.confirm:q-2" {
		t.Fatalf("due at now: %+v", due)
	}
	due, err = s.ListDuePartnerCalls(ctx, now.Add(2*time.Minute), 10)
	noErr(t, err)
	if len(due) != 2 || due[0].DedupeKey != "avata.confirm:q-2" || due[1].ID != first.ID {
		t.Fatalf("due later: %+v", due)
	}

	// Settling: optimistic on the version; a stale writer gets ErrConflict.
	settled := got
	settled.State, settled.Result, settled.Request, settled.Attempts = domain.PartnerCallSucceeded, []byte(`{"policy_id":"p-1"}`), nil, 1
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		settled, err = tx.UpdatePartnerCall(ctx, settled, got.Version)
		return err
	})
	if settled.Version != 2 {
		t.Fatalf("settled version %d", settled.Version)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdatePartnerCall(ctx, got, got.Version)
		return err
	})
	wantErr(t, err, store.ErrConflict)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdatePartnerCall(ctx, domain.PartnerCall{ID: "missing"}, 1)
		return err
	})
	wantErr(t, err, store.ErrNotFound)
	got, err = s.GetPartnerCall(ctx, first.ID)
	noErr(t, err)
	if got.State != domain.PartnerCallSucceeded || string(got.Result) != `{"policy_id":"p-1"}` || len(got.Request) != 0 || got.Attempts != 1 {
		t.Fatalf("after settle: %+v", got)
	}
	// A settled call frees its key; Find returns the newest attempt.
	again, err := createCall(t, s, domain.PartnerCall{Partner: domain.PartnerAvata, Operation: domain.OpAvataConfirm, DedupeKey: "avata.confirm:q-1", RequestHash: "h-2"})
	noErr(t, err)
	found, err := s.FindPartnerCall(ctx, "avata.confirm:q-1")
	noErr(t, err)
	if found.ID != again.ID || found.RequestHash != "h-2" {
		t.Fatalf("find newest: %+v, want %s", found, again.ID)
	}
	_, err = s.FindPartnerCall(ctx, "avata.confirm:none")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetPartnerCall(ctx, "none")
	wantErr(t, err, store.ErrNotFound)
}

// testAvataReferences: Avata's claim id is kept on the claim; a policy is found by the reference
// sent with its confirm.
func testAvataReferences(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	older := newPolicy(t, s, domain.Policy{Partner: domain.PartnerAvata, AvataReference: "ref-1"})
	newer := newPolicy(t, s, domain.Policy{Partner: domain.PartnerAvata, AvataReference: "ref-1"})
	newPolicy(t, s, domain.Policy{Partner: domain.PartnerAvata, AvataReference: "ref-2", AvataPolicyUUID: "u-2"})
	p, err := s.FindPolicyByAvataReference(ctx, "ref-1")
	noErr(t, err)
	if p.ID != newer.ID || p.ID == older.ID {
		t.Fatalf("by reference: %s, want the newest %s", p.ID, newer.ID)
	}
	_, err = s.FindPolicyByAvataReference(ctx, "ref-none")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.FindPolicyByAvataReference(ctx, "")
	wantErr(t, err, store.ErrNotFound)

	var c domain.Claim
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		// A claim recorded before Avata told us its uuid has none yet.
		c, err = tx.CreateClaim(ctx, domain.Claim{PolicyID: newer.ID, Status: domain.ClaimCreated, Reason: "lost in transit"})
		return err
	})
	if c.AvataClaimUUID != "" || c.AvataClaimID != "" {
		t.Fatalf("new claim: %+v", c)
	}
	c.AvataClaimUUID, c.AvataClaimID = "claim-uuid-1", "claim-id-1"
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = tx.UpdateClaim(ctx, c, c.Version)
		return err
	})
	got, err := s.FindClaimByAvataUUID(ctx, "claim-uuid-1")
	noErr(t, err)
	if got.ID != c.ID || got.AvataClaimID != "claim-id-1" {
		t.Fatalf("claim ids: %+v", got)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c2, err := tx.CreateClaim(ctx, domain.Claim{PolicyID: older.ID, Status: domain.ClaimPending, AvataClaimUUID: "claim-uuid-2", AvataClaimID: "claim-id-2"})
		if err == nil && c2.AvataClaimID != "claim-id-2" {
			t.Errorf("created with claim id: %+v", c2)
		}
		return err
	})
	got, err = s.FindClaimByAvataUUID(ctx, "claim-uuid-2")
	noErr(t, err)
	if got.AvataClaimID != "claim-id-2" {
		t.Fatalf("claim id on create: %+v", got)
	}
}

// testPartnerCallErasure: erasure clears the requests of the customer's partner calls (they
// hold the holder's details) and abandons a pending one.
func testPartnerCallErasure(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "kyc-holder@example.com")
	pending, err := createCall(t, s, domain.PartnerCall{Partner: domain.PartnerAvata, Operation: domain.OpAvataKYC, DedupeKey: "avata.kyc:1",
		CustomerID: c.ID, Request: []byte(`{"email":"kyc-holder@example.com"}`)})
	noErr(t, err)
	done, err := createCall(t, s, domain.PartnerCall{Partner: domain.PartnerAvata, Operation: domain.OpAvataKYC, DedupeKey: "avata.kyc:2",
		CustomerID: c.ID, Request: []byte(`{"email":"kyc-holder@example.com"}`)})
	noErr(t, err)
	done.State = domain.PartnerCallSucceeded
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.UpdatePartnerCall(ctx, done, done.Version); err != nil {
			return err
		}
		_, err := tx.EraseCustomer(ctx, c.ID, time.Now())
		return err
	})
	where, err := s.FindText(ctx, "kyc-holder@example.com")
	noErr(t, err)
	if len(where) != 0 {
		t.Fatalf("after erasure the e-mail is still in %v", where)
	}
	got, err := s.GetPartnerCall(ctx, pending.ID)
	noErr(t, err)
	if got.State != domain.PartnerCallFailed || got.LastError == "" {
		t.Fatalf("pending call after erasure: %+v", got)
	}
	got, err = s.GetPartnerCall(ctx, done.ID)
	noErr(t, err)
	if got.State != domain.PartnerCallSucceeded {
		t.Fatalf("settled call after erasure: %+v", got)
	}
}
