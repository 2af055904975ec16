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

// held fills in a holder and a live lease (the normal reservation of a running request).
func held(rec domain.IdempotencyRecord, holder string) domain.IdempotencyRecord {
	rec.Holder = holder
	if rec.LeaseExpireTime.IsZero() {
		rec.LeaseExpireTime = time.Now().Add(time.Minute)
	}
	return rec
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	future := time.Now().Add(time.Hour)
	rec := domain.IdempotencyRecord{Principal: "key:ops", Key: "k-1", Method: "/covergate.insurance.v1.PolicyService/CancelPolicy",
		RequestHash: "sha256:aa", ExpireTime: future}
	got, err := reserve(s, held(rec, "h1"))
	noErr(t, err)
	if got.State != domain.IdempotencyInProgress {
		t.Fatalf("reserved: %+v", got)
	}
	_, err = reserve(s, held(rec, "h2"))
	var dup *store.DuplicateIdempotencyError
	if !errors.As(err, &dup) || !errors.Is(err, store.ErrDuplicate) || dup.Existing.State != domain.IdempotencyInProgress ||
		dup.Existing.RequestHash != "sha256:aa" || dup.Existing.Holder != "h1" || dup.Existing.LeaseExpireTime.IsZero() {
		t.Fatalf("second reserve: %v (%+v)", err, dup)
	}
	// Only the holder completes.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:ops", "k-1", "h2", []byte(`{"ok":false}`), "")
	})
	wantErr(t, err, store.ErrConflict)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:ops", "k-1", "h1", []byte(`{"ok":true}`), "")
	})
	_, err = reserve(s, held(domain.IdempotencyRecord{Principal: "key:ops", Key: "k-1", RequestHash: "sha256:bb", ExpireTime: future}, "h3"))
	if !errors.As(err, &dup) || dup.Existing.State != domain.IdempotencyCompleted || string(dup.Existing.Response) != `{"ok":true}` ||
		dup.Existing.RequestHash != "sha256:aa" || !dup.Existing.LeaseExpireTime.IsZero() {
		t.Fatalf("reserve after completion: %v", err)
	}
	// Keys are per principal.
	_, err = reserve(s, held(domain.IdempotencyRecord{Principal: "key:other", Key: "k-1", ExpireTime: future}, "h4"))
	noErr(t, err)

	// An expired key is replaceable; DeleteExpired removes only expired rows.
	past := time.Now().Add(-time.Minute)
	_, err = reserve(s, held(domain.IdempotencyRecord{Principal: "key:ops", Key: "old", RequestHash: "h1", ExpireTime: past}, "h5"))
	noErr(t, err)
	got, err = reserve(s, held(domain.IdempotencyRecord{Principal: "key:ops", Key: "old", RequestHash: "h2", ExpireTime: future}, "h6"))
	noErr(t, err)
	stored, err := s.GetIdempotency(ctx, "key:ops", "old")
	noErr(t, err)
	if stored.RequestHash != "h2" || stored.State != domain.IdempotencyInProgress || stored.Holder != "h6" {
		t.Fatalf("replaced expired key: %+v", stored)
	}
	_, err = reserve(s, held(domain.IdempotencyRecord{Principal: "key:ops", Key: "gone", ExpireTime: past}, "h7"))
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

	// Release frees an in-progress key held by the caller, not a completed one nor another's.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseIdempotency(ctx, "key:ops", "old", "h5")
	})
	wantErr(t, err, store.ErrConflict)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseIdempotency(ctx, "key:ops", "old", "h6")
	})
	_, err = s.GetIdempotency(ctx, "key:ops", "old")
	wantErr(t, err, store.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseIdempotency(ctx, "key:ops", "k-1", "h1")
	})
	wantErr(t, err, store.ErrConflict)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseIdempotency(ctx, "key:ops", "nope", "h1")
	})
	wantErr(t, err, store.ErrNotFound)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:ops", "nope", "h1", nil, "")
	})
	wantErr(t, err, store.ErrNotFound)
	for _, bad := range []domain.IdempotencyRecord{
		held(domain.IdempotencyRecord{Key: "k", ExpireTime: future}, "h"),
		held(domain.IdempotencyRecord{Principal: "p", ExpireTime: future}, "h"),
		held(domain.IdempotencyRecord{Principal: "p", Key: "k"}, "h"),
		{Principal: "p", Key: "k", ExpireTime: future, LeaseExpireTime: future}, // no holder
		{Principal: "p", Key: "k", ExpireTime: future, Holder: "h"},             // no lease
	} {
		if _, err := reserve(s, bad); err == nil || errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("reserve(%+v) = %v", bad, err)
		}
	}
	testIdempotencyLease(t, s)
}

// testIdempotencyLease: a key whose holder died (its lease passed without renewal) is taken over
// by a retry of the same request — not by a different request under the same key — and the dead
// holder can no longer renew, complete or release it.
func testIdempotencyLease(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	future := time.Now().Add(time.Hour)
	base := domain.IdempotencyRecord{Principal: "key:lease", Key: "L", Method: "/m", RequestHash: "hash-1", ExpireTime: future}

	live := base
	live.Holder, live.LeaseExpireTime = "dead", time.Now().Add(time.Minute)
	_, err := reserve(s, live)
	noErr(t, err)
	// Renewal by the holder moves the lease; by anyone else it is refused.
	renewTo := time.Now().Add(-time.Second) // the holder "died" a second ago: its lease has passed
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RenewIdempotencyLease(ctx, "key:lease", "L", "dead", renewTo)
	})
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.RenewIdempotencyLease(ctx, "key:lease", "L", "other", future)
	})
	wantErr(t, err, store.ErrConflict)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.RenewIdempotencyLease(ctx, "key:lease", "missing", "dead", future)
	})
	wantErr(t, err, store.ErrNotFound)

	// A different request under the key never takes it over, lease or not.
	other := base
	other.RequestHash, other.Holder, other.LeaseExpireTime = "hash-2", "thief", future
	_, err = reserve(s, other)
	var dup *store.DuplicateIdempotencyError
	if !errors.As(err, &dup) || dup.Existing.Holder != "dead" {
		t.Fatalf("different request after the lease: %v", err)
	}
	other.RequestHash, other.Method = base.RequestHash, "/other-method"
	if _, err = reserve(s, other); !errors.As(err, &dup) {
		t.Fatalf("different method after the lease: %v", err)
	}

	// The same request takes it over.
	retry := base
	retry.Holder, retry.LeaseExpireTime = "retry", future
	got, err := reserve(s, retry)
	noErr(t, err)
	stored, err := s.GetIdempotency(ctx, "key:lease", "L")
	noErr(t, err)
	if got.Holder != "retry" || stored.Holder != "retry" || stored.State != domain.IdempotencyInProgress || !stored.LeaseExpireTime.After(time.Now()) {
		t.Fatalf("taken over: returned %+v, stored %+v", got, stored)
	}
	// The dead holder, should it wake up, changes nothing.
	for name, op := range map[string]func(context.Context, store.Tx) error{
		"renew": func(ctx context.Context, tx store.Tx) error {
			return tx.RenewIdempotencyLease(ctx, "key:lease", "L", "dead", future)
		},
		"complete": func(ctx context.Context, tx store.Tx) error {
			return tx.CompleteIdempotency(ctx, "key:lease", "L", "dead", []byte("x"), "")
		},
		"release": func(ctx context.Context, tx store.Tx) error {
			return tx.ReleaseIdempotency(ctx, "key:lease", "L", "dead")
		},
	} {
		if err := s.InTx(ctx, op); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s by the old holder: %v, want ErrConflict", name, err)
		}
	}
	// While the new holder's lease is live, another retry is refused.
	again := base
	again.Holder, again.LeaseExpireTime = "again", future
	if _, err := reserve(s, again); !errors.As(err, &dup) || dup.Existing.Holder != "retry" {
		t.Fatalf("retry during a live lease: %v", err)
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, "key:lease", "L", "retry", []byte("done"), "")
	})
	// A completed key is never taken over, whatever its (cleared) lease.
	if _, err := reserve(s, again); !errors.As(err, &dup) || dup.Existing.State != domain.IdempotencyCompleted || string(dup.Existing.Response) != "done" {
		t.Fatalf("reserve after completion: %v", err)
	}
}
