package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// testWriteBehind: after DeferWrites, a held-back write is committed even when nobody flushes
// (the commit sends it), a later read in the transaction sees it, and a failing one is never
// lost: its error comes from the call, from a later statement or from FlushWrites, and the
// transaction does not commit.
func testWriteBehind(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	policy := func(contextID string) domain.Policy {
		return domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, Status: domain.PolicyActive, EtvasContextID: contextID}
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		tx.(store.WriteBehinder).DeferWrites()
		if _, err := tx.CreatePolicy(ctx, policy("wb-kept")); err != nil {
			return err
		}
		if _, err := tx.FindPolicyByEtvasContextID(ctx, "wb-kept"); err != nil { // sends the held-back INSERT first
			return err
		}
		_, err := tx.CreatePolicy(ctx, policy("wb-commit")) // sent by the commit
		return err
	})
	for _, c := range []string{"wb-kept", "wb-commit"} {
		if _, err := s.FindPolicyByEtvasContextID(ctx, c); err != nil {
			t.Errorf("policy %s: %v", c, err)
		}
	}

	var surfaced error
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		wb := tx.(store.WriteBehinder)
		wb.DeferWrites()
		if _, err := tx.CreatePolicy(ctx, policy("wb-failed")); err != nil {
			return err
		}
		if _, surfaced = tx.CreatePolicy(ctx, policy("wb-kept")); surfaced != nil { // a unique violation
			return surfaced
		}
		if _, surfaced = tx.FindPolicyByEtvasContextID(ctx, "wb-failed"); surfaced != nil {
			return surfaced
		}
		surfaced = wb.FlushWrites(ctx)
		return surfaced
	})
	if !errors.Is(err, store.ErrDuplicate) || !errors.Is(surfaced, store.ErrDuplicate) {
		t.Fatalf("failing held-back write: InTx %v, surfaced %v; want ErrDuplicate", err, surfaced)
	}
	if _, err := s.FindPolicyByEtvasContextID(ctx, "wb-failed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("policy written before the failure: %v, want not found (not committed)", err)
	}
}
