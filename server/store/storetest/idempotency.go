package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func reserve(s store.Store, rec domain.IdempotencyRecord) (domain.IdempotencyRecord, error) {
	var out domain.IdempotencyRecord
	err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.ReserveIdempotency(ctx, rec)
		return err
	})
	return out, err
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	future := time.Now().Add(time.Hour)
	rec := domain.IdempotencyRecord{Principal: "key:ops", Key: "k-1", Method: "/covergate.insurance.v1.PolicyService/CancelPolicy",
		RequestHash: "sha256:aa", ExpireTime: future}
	got, err := reserve(s, rec)
	noErr(t, err)
	if got.State != domain.IdempotencyInProgress {
		t.Fatalf("reserved: %+v", got)
	}
	_, err = reserve(s, rec)
	var dup *store.DuplicateIdempotencyError
	if !errors.As(err, &dup) || !errors.Is(err, store.ErrDuplicate) || dup.Existing.State != domain.IdempotencyInProgress || dup.Existing.RequestHash != "sha256:aa" {
		t.Fatalf("second reserve: %v", err)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:ops", "k-1", []byte(`{"ok":true}`), "")
	})
	_, err = reserve(s, domain.IdempotencyRecord{Principal: "key:ops", Key: "k-1", RequestHash: "sha256:bb", ExpireTime: future})
	if !errors.As(err, &dup) || dup.Existing.State != domain.IdempotencyCompleted || string(dup.Existing.Response) != `{"ok":true}` || dup.Existing.RequestHash != "sha256:aa" {
		t.Fatalf("reserve after completion: %v", err)
	}
	// Keys are per principal.
	_, err = reserve(s, domain.IdempotencyRecord{Principal: "key:other", Key: "k-1", ExpireTime: future})
	noErr(t, err)

	// An expired key is replaceable; DeleteExpired removes only expired rows.
	past := time.Now().Add(-time.Minute)
	_, err = reserve(s, domain.IdempotencyRecord{Principal: "key:ops", Key: "old", RequestHash: "h1", ExpireTime: past})
	noErr(t, err)
	got, err = reserve(s, domain.IdempotencyRecord{Principal: "key:ops", Key: "old", RequestHash: "h2", ExpireTime: future})
	noErr(t, err)
	stored, err := s.GetIdempotency(ctx, "key:ops", "old")
	noErr(t, err)
	if stored.RequestHash != "h2" || stored.State != domain.IdempotencyInProgress {
		t.Fatalf("replaced expired key: %+v", stored)
	}
	_, err = reserve(s, domain.IdempotencyRecord{Principal: "key:ops", Key: "gone", ExpireTime: past})
	noErr(t, err)
	var n int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredIdempotency(ctx, time.Now())
		return err
	})
	if n != 1 {
		t.Fatalf("deleted %d expired keys, want 1", n)
	}
	_, err = s.GetIdempotency(ctx, "key:ops", "gone")
	wantErr(t, err, store.ErrNotFound)

	// Release frees an in-progress key, not a completed one.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIdempotency(ctx, "key:ops", "old") })
	_, err = s.GetIdempotency(ctx, "key:ops", "old")
	wantErr(t, err, store.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIdempotency(ctx, "key:ops", "k-1") })
	wantErr(t, err, store.ErrConflict)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIdempotency(ctx, "key:ops", "nope") })
	wantErr(t, err, store.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:ops", "nope", nil, "")
	})
	wantErr(t, err, store.ErrNotFound)
	for _, bad := range []domain.IdempotencyRecord{{Key: "k", ExpireTime: future}, {Principal: "p", ExpireTime: future}, {Principal: "p", Key: "k"}} {
		if _, err := reserve(s, bad); err == nil || errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("reserve(%+v) = %v", bad, err)
		}
	}
}
