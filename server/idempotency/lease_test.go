package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/idempotency"
	"github.com/covergate/covergate/server/store"
)

// TestPanicReleasesKey: a handler that panics leaves no response to replay; the key is released
// before the panic goes on to the recovery interceptor, so the caller's retry runs at once
// instead of getting 409 until the lease passes.
func TestPanicReleasesKey(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixtureOn(t, dsn)
			ctx := callCtx("a", "panic-key")
			func() {
				defer func() {
					if p := recover(); p != "handler bug" {
						t.Fatalf("recovered %v, want the handler's panic passed on", p)
					}
				}()
				_, _ = f.call(ctx, "r", func(context.Context, any) (any, error) { f.calls.Add(1); panic("handler bug") })
				t.Fatal("the panic was swallowed")
			}()
			if _, err := f.store.GetIdempotency(context.Background(), "a", "panic-key"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("key after the panic: %v, want it released", err)
			}
			resp, err := f.call(ctx, "r", nil)
			if err != nil {
				t.Fatalf("retry after the panic: %v", err)
			}
			if resp.(*insurancev1.CreatePolicyResponse).GetPolicy().GetPolicyId() != "p-r" || f.calls.Load() != 2 {
				t.Fatalf("retry answered %v after %d handler calls", resp, f.calls.Load())
			}
		})
	}
}

// TestAbandonedKeyTakenOverAfterLease: a key held by a request whose process died (reserved,
// never renewed, completed nor released — what kill -9 leaves in the store) answers 409 while
// its lease runs, and once the lease has passed the retry runs the request and the key is
// completed with the retry's answer. Another request under the same key stays refused.
func TestAbandonedKeyTakenOverAfterLease(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			const lease = 30 * time.Second
			f := newFixtureOn(t, dsn, func(c *idempotency.Config) { c.Lease = lease })
			ctx := callCtx("a", "orphan")
			// What kill -9 leaves behind: the same request, reserved by a process that will
			// never renew, complete nor release the key.
			hash, err := idempotency.RequestHash(createPolicy, &insurancev1.CreatePolicyRequest{QuoteId: "q", Reference: "r"})
			if err != nil {
				t.Fatal(err)
			}
			now := f.clock.Now()
			dead := domain.IdempotencyRecord{Principal: "a", Key: "orphan", Method: createPolicy, RequestHash: hash,
				ExpireTime: now.Add(idempotency.DefaultTTL), Holder: "killed-process", LeaseExpireTime: now.Add(lease)}
			if err := f.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				_, err := tx.ReserveIdempotency(ctx, dead)
				return err
			}); err != nil {
				t.Fatal(err)
			}

			if _, err := f.call(ctx, "r", nil); status.Code(err) != codes.Aborted || reason(err) != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_IN_USE) {
				t.Fatalf("retry within the lease = %v, want ABORTED IDEMPOTENCY_KEY_IN_USE", err)
			}
			f.clock.Add(lease + time.Second)
			if _, err := f.call(ctx, "other-request", nil); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("another request under the key after the lease = %v, want IDEMPOTENCY_KEY_REUSED", err)
			}
			resp, err := f.call(ctx, "r", nil)
			if err != nil || resp.(*insurancev1.CreatePolicyResponse).GetPolicy().GetPolicyId() != "p-r" {
				t.Fatalf("retry after the lease = %v, %v", resp, err)
			}
			after, err := f.store.GetIdempotency(context.Background(), "a", "orphan")
			if err != nil || after.State != domain.IdempotencyCompleted || after.Holder == dead.Holder {
				t.Fatalf("key after the takeover: %+v, %v", after, err)
			}
			// The dead holder cannot undo the retry's record.
			err = f.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				return tx.ReleaseIdempotency(ctx, "a", "orphan", dead.Holder)
			})
			if err == nil {
				t.Fatal("the dead holder released the completed key")
			}
			if _, err := f.call(ctx, "r", nil); err != nil || f.calls.Load() != 1 {
				t.Fatalf("replay after completion: %v after %d handler calls, want the stored answer", err, f.calls.Load())
			}
		})
	}
}

// TestLongRequestRenewsLease: a request running longer than the lease keeps its key: the lease
// is renewed while it runs, so a concurrent retry still gets 409 and never runs it twice.
func TestLongRequestRenewsLease(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			const lease = 150 * time.Millisecond // renewals every 50 ms of real time
			f := newFixtureOn(t, dsn, func(c *idempotency.Config) { c.Lease = lease })
			ctx := callCtx("a", "slow")
			release := make(chan struct{})
			done := make(chan error, 1)
			go func() { // owned by this test: ends when release is closed
				_, err := f.call(ctx, "r", func(context.Context, any) (any, error) {
					f.calls.Add(1)
					<-release
					return &insurancev1.CreatePolicyResponse{Policy: &insurancev1.Policy{PolicyId: "p-slow"}}, nil
				})
				done <- err
			}()
			// The clock jumps past the first lease; the running request must renew beyond it.
			var first domain.IdempotencyRecord
			waitFor(t, func() bool {
				var err error
				first, err = f.store.GetIdempotency(context.Background(), "a", "slow")
				return err == nil
			})
			f.clock.Add(10 * lease)
			waitFor(t, func() bool {
				rec, err := f.store.GetIdempotency(context.Background(), "a", "slow")
				return err == nil && rec.LeaseExpireTime.After(f.clock.Now())
			})
			if _, err := f.call(ctx, "r", nil); status.Code(err) != codes.Aborted {
				t.Fatalf("retry while the first request runs = %v, want ABORTED", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("slow request: %v", err)
			}
			if f.calls.Load() != 1 {
				t.Fatalf("handler ran %d times, want 1", f.calls.Load())
			}
			rec, _ := f.store.GetIdempotency(context.Background(), "a", "slow")
			if rec.State != domain.IdempotencyCompleted || rec.Holder != first.Holder {
				t.Fatalf("key after the slow request: %+v", rec)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a generous bound (this is a
// liveness check, not a timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
