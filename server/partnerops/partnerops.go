// Package partnerops runs the partner calls that have side effects — Avata confirm (NFT,
// booking, digital asset), activate, claim create and KYC — with a durable before and after:
//
//  1. the intent is recorded first (domain.PartnerCall, PENDING, with everything needed to send
//     the call again) in its own transaction;
//  2. the call runs on a context detached from the caller's deadline, with its own budget
//     (Config.CallTimeout), so an answer that arrives after the client left is still recorded;
//  3. the outcome is recorded in the transaction that records its effect (the policy, the claim,
//     the KYC submission) — or the call is marked FAILED when the partner said no, or left
//     PENDING when nobody knows (timeout, transport error, crash);
//  4. the Reconciler resolves every PENDING call whose check time has passed through the
//     partner's status calls (claim status by policy, policies of the merchant wallet) or by
//     sending the call again where Avata refuses a repeat ("already confirmed", "claim exists"),
//     and a partner's "already exists" answer is reconciled into a record, never surfaced as a
//     conflict for our own earlier attempt.
//
// A retry of the same request (same idempotency key, or the same purchase of the same quote)
// finds the call by its dedupe key: it waits for a call in flight and returns the recorded
// result, so the policy or claim is never lost and never made twice.
//
// Avata API documentation (v0.12.0): https://documentation.demo.avata.gg
package partnerops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/store"
)

// Defaults applied by New.
const (
	DefaultCallTimeout  = 30 * time.Second
	DefaultRecheckAfter = 15 * time.Second
	DefaultMaxRecheck   = 10 * time.Minute
	DefaultPollInterval = 50 * time.Millisecond
	// recordTimeout bounds the recording of an outcome, after the call's own budget.
	recordTimeout = 10 * time.Second
)

// Config configures Ops.
type Config struct {
	Store     store.Store
	Lifecycle *lifecycle.Lifecycle
	Avata     *avata.Client
	Logger    *slog.Logger
	Now       func() time.Time
	// CallTimeout is the budget of one partner call, whatever the caller's deadline.
	CallTimeout time.Duration
	// RecheckAfter is how long after an unknown outcome the reconciler first looks (doubling
	// per attempt up to MaxRecheck). A call in flight is not looked at before CallTimeout +
	// RecheckAfter.
	RecheckAfter time.Duration
	MaxRecheck   time.Duration
	// PollInterval is how often a retry waiting for a call in flight re-reads it.
	PollInterval time.Duration
	// CustomerWallet opens the customer's stored wallet session for the wallet a policy was
	// bought to (a non-custodial policy): the reconciler signs a claim resend or a claim status
	// check on such a policy with it, never with the merchant wallet. An error (no session, or
	// it expired) leaves the call PENDING until the customer signs in again. nil: such calls
	// stay PENDING.
	CustomerWallet func(ctx context.Context, customerID, wallet string) (avata.Wallet, error)
}

// Ops runs partner calls with side effects. It is safe for concurrent use. Calls whose caller
// left before the answer keep running on goroutines Ops owns; Wait waits for them.
type Ops struct {
	cfg      Config
	mu       sync.Mutex // orders inflight.Add against Wait
	closed   bool
	inflight sync.WaitGroup
}

// Wait waits for the partner calls still running after their callers left (each is bounded by
// CallTimeout). The app calls it on shutdown, before it closes the store; calls that start
// afterwards (a handler cut off by a forced stop) run in their caller's goroutine.
func (o *Ops) Wait() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.inflight.Wait()
}

// track registers a goroutine Wait must wait for; false once Wait has begun.
func (o *Ops) track() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.inflight.Add(1)
	return true
}

// detach runs fn (the partner call and the recording of its outcome) on a context detached
// from the caller's deadline and returns its result — or, when the caller leaves first, the
// caller's context error at once, while fn goes on and records the outcome: a retry with the
// same idempotency key (or the same request) then gets the recorded result.
func detach[T any](o *Ops, ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	if !o.track() {
		cctx, cancel := o.detached(ctx)
		defer cancel()
		return fn(cctx)
	}
	done := make(chan result, 1)
	go func() {
		defer o.inflight.Done()
		cctx, cancel := o.detached(ctx)
		defer cancel()
		v, err := fn(cctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		code := codes.DeadlineExceeded
		if errors.Is(ctx.Err(), context.Canceled) {
			code = codes.Canceled
		}
		return zero, apierror.New(code, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT,
			"the partner has not answered within your deadline; the call goes on and its outcome is recorded: "+
				"retry with the same idempotency key to get it", "partner", avata.PartnerName)
	}
}

// New returns Ops with defaults applied.
func New(cfg Config) (*Ops, error) {
	if cfg.Store == nil || cfg.Lifecycle == nil || cfg.Avata == nil {
		return nil, errors.New("partnerops: store, lifecycle and avata client are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.RecheckAfter <= 0 {
		cfg.RecheckAfter = DefaultRecheckAfter
	}
	if cfg.MaxRecheck <= 0 {
		cfg.MaxRecheck = DefaultMaxRecheck
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	return &Ops{cfg: cfg}, nil
}

func (o *Ops) now() time.Time { return o.cfg.Now().UTC() }

// detached is the context a partner call and the recording of its outcome run on: it keeps
// the caller's values (request id, trace) but not its deadline or cancellation.
func (o *Ops) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), o.cfg.CallTimeout)
}

// RequestHash hashes the parts of a request that make it the same request.
func RequestHash(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		_ = enc.Encode(p) // hashing never fails; an unencodable part hashes as nothing
	}
	return hex.EncodeToString(h.Sum(nil))
}

// outcome is what a failed partner call tells us about its effect.
type outcome int

const (
	// outcomeNo: the partner did not do it (4xx, 429, 503, never sent).
	outcomeNo outcome = iota + 1
	// outcomeUnknown: the partner may have done it (timeout, transport error, 500/502/504, an
	// answer we cannot read).
	outcomeUnknown
)

func classify(err error) outcome {
	var ns *notSentError
	if errors.As(err, &ns) {
		return outcomeNo
	}
	var perr *partnerhttp.Error
	if !errors.As(err, &perr) {
		return outcomeUnknown // a context error or anything else: nobody knows
	}
	switch {
	case perr.HTTPStatus == 0:
		switch perr.Kind {
		case partnerhttp.KindCircuitOpen,
			partnerhttp.KindRejected, partnerhttp.KindRefused, partnerhttp.KindForbidden, etvas.KindTokenRejected,
			partnerhttp.KindInputTooLarge,
			partnerhttp.KindInternal, partnerhttp.KindInvalidCall:
			return outcomeNo // refused before anything was sent
		}
		return outcomeUnknown
	case perr.HTTPStatus >= 200 && perr.HTTPStatus < 300:
		return outcomeUnknown // a 2xx we could not read: something happened
	case perr.HTTPStatus == http.StatusServiceUnavailable, perr.HTTPStatus == http.StatusTooManyRequests:
		return outcomeNo
	case perr.HTTPStatus >= 500:
		return outcomeUnknown
	}
	return outcomeNo
}

// notSentError is a failure before anything was sent to the partner (no merchant wallet, no
// request): the partner did nothing.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// recordError is a failure to record an outcome the partner gave: the call stays PENDING and
// the reconciler records it.
type recordError struct{ err error }

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// ignoreSettled drops the error of a reconciliation whose outcome is recorded (or left for a
// later round); only a failure to record is worth reporting.
func ignoreSettled(err error) error {
	var re *recordError
	if errors.As(err, &re) {
		return err
	}
	return nil
}

// avataCode is Avata's error code and HTTP status of err, if it is an Avata answer.
func avataCode(err error) (string, int) {
	var aerr *avata.Error
	if !errors.As(err, &aerr) {
		return "", 0
	}
	return aerr.Code, aerr.HTTP.HTTPStatus
}

func isAvata(err error, code string) bool {
	c, st := avataCode(err)
	return st == http.StatusConflict && c == code
}

// isNotFound reports an Avata 404 (no such claim / policy).
func isNotFound(err error) bool {
	_, st := avataCode(err)
	return st == http.StatusNotFound
}

// errInProgress answers a retry whose earlier call is still in flight when its deadline ends.
func errInProgress(what string) error {
	return apierror.New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
		what+" is still in progress with the partner: retry with the same idempotency key to get its result",
		"partner", avata.PartnerName)
}

// begin records the intent in its own transaction.
func (o *Ops) begin(ctx context.Context, c domain.PartnerCall) (domain.PartnerCall, error) {
	c.Partner = domain.PartnerAvata
	c.Attempts = 1
	c.NextCheckTime = o.now().Add(o.cfg.CallTimeout + o.cfg.RecheckAfter)
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = o.cfg.Lifecycle.BeginPartnerCall(ctx, tx, c)
		return err
	})
	return c, err
}

// settle runs fn on the freshly read call in one transaction, if the call is still PENDING;
// fn records the effect and settles the call. A call someone else settled meanwhile is
// returned as it is (settled=false), so an outcome is recorded exactly once.
func (o *Ops) settle(ctx context.Context, id string, fn func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error)) (domain.PartnerCall, error) {
	// The call may have used up its budget (that is how an outcome becomes unknown): recording
	// it gets a budget of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var out domain.PartnerCall
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.GetPartnerCall(ctx, id)
			if err != nil {
				return err
			}
			if cur.State != domain.PartnerCallPending {
				out = cur
				return nil
			}
			out, err = fn(ctx, tx, cur)
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return out, err
}

// fail marks a call FAILED: the partner said no and nothing else changes.
func (o *Ops) fail(ctx context.Context, c domain.PartnerCall, cause error) {
	_, err := o.settle(ctx, c.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
		return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallFailed, nil, cause.Error())
	})
	if err != nil {
		o.cfg.Logger.ErrorContext(ctx, "partner call refused but not recorded as failed: the reconciler will resend it",
			"partner_call_id", c.ID, "operation", c.Operation, "error", err)
	}
}

// unknown leaves a call PENDING with its next check: nobody knows whether the partner did it.
func (o *Ops) unknown(ctx context.Context, c domain.PartnerCall, cause error) {
	_, err := o.settle(ctx, c.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
		next := cur
		next.LastError = cause.Error()
		next.NextCheckTime = o.now().Add(o.backoff(cur.Attempts))
		return tx.UpdatePartnerCall(ctx, next, cur.Version)
	})
	level := slog.LevelWarn
	if err != nil {
		level = slog.LevelError
	}
	o.cfg.Logger.Log(ctx, level, "partner call outcome unknown: the reconciler will resolve it",
		"partner_call_id", c.ID, "operation", c.Operation, "subject", c.Subject, "cause", cause.Error(), "error", err)
}

func (o *Ops) backoff(attempts int32) time.Duration {
	d := o.cfg.RecheckAfter
	for i := int32(1); i < attempts && d < o.cfg.MaxRecheck; i++ {
		d *= 2
	}
	return min(d, o.cfg.MaxRecheck)
}

// wait re-reads a PENDING call until it settles or ctx ends; a call whose check time has
// passed (its caller crashed or timed out) is resolved at once, as the reconciler would.
func (o *Ops) wait(ctx context.Context, c domain.PartnerCall) (domain.PartnerCall, error) {
	// A call that stays unresolved longer (the partner is down) is left to the reconciler: the
	// caller hears "in progress" rather than hanging on.
	ctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout+o.cfg.RecheckAfter)
	defer cancel()
	for c.State == domain.PartnerCallPending {
		if !c.NextCheckTime.After(o.now()) {
			if err := o.Reconcile(ctx, c); err != nil {
				o.cfg.Logger.WarnContext(ctx, "partner call: reconcile while waiting failed", "partner_call_id", c.ID, "error", err)
			}
		} else {
			t := time.NewTimer(o.cfg.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return c, ctx.Err()
			case <-t.C:
			}
		}
		var err error
		if c, err = o.cfg.Store.GetPartnerCall(ctx, c.ID); err != nil {
			return c, fmt.Errorf("partnerops: read partner call %s: %w", c.ID, err)
		}
	}
	return c, nil
}

// claimForCheck takes a due call for one resolution attempt: it counts the attempt and moves
// the next check past this attempt's budget, so another replica's reconciler leaves it alone.
// ok is false when the call settled or someone else took it meanwhile.
func (o *Ops) claimForCheck(ctx context.Context, c domain.PartnerCall) (domain.PartnerCall, bool, error) {
	var out domain.PartnerCall
	ok := false
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetPartnerCall(ctx, c.ID)
		if err != nil {
			return err
		}
		if cur.State != domain.PartnerCallPending || cur.NextCheckTime.After(o.now()) {
			return nil
		}
		next := cur
		next.Attempts++
		next.NextCheckTime = o.now().Add(o.cfg.CallTimeout + o.backoff(next.Attempts))
		out, err = tx.UpdatePartnerCall(ctx, next, cur.Version)
		ok = err == nil
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return c, false, nil
	}
	return out, ok, err
}

// Reconcile resolves one PENDING call whose outcome is unknown, if it is due.
func (o *Ops) Reconcile(ctx context.Context, c domain.PartnerCall) error {
	c, ok, err := o.claimForCheck(ctx, c)
	if err != nil || !ok {
		return err
	}
	// Not detached: a reconciliation cut short by shutdown leaves the call PENDING for the next.
	cctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	defer cancel()
	if len(c.Request) == 0 || string(c.Request) == domain.Redacted {
		o.fail(cctx, c, errors.New("abandoned: the request is no longer stored"))
		return nil
	}
	o.cfg.Logger.InfoContext(ctx, "reconciling partner call", "partner_call_id", c.ID, "operation", c.Operation,
		"subject", c.Subject, "attempt", c.Attempts)
	switch c.Operation {
	case domain.OpAvataConfirm:
		return o.reconcileConfirm(cctx, c)
	case domain.OpAvataClaimCreate:
		return o.reconcileClaim(cctx, c)
	case domain.OpAvataActivate:
		return o.reconcileActivate(cctx, c)
	case domain.OpAvataKYC:
		return o.reconcileKYC(cctx, c)
	}
	o.fail(cctx, c, fmt.Errorf("unknown operation %q", c.Operation))
	return nil
}

// ReconcileDue resolves up to limit due calls and reports how many it looked at.
func (o *Ops) ReconcileDue(ctx context.Context, limit int) (int, error) {
	due, err := o.cfg.Store.ListDuePartnerCalls(ctx, o.now(), limit)
	if err != nil {
		return 0, fmt.Errorf("partnerops: list due calls: %w", err)
	}
	var errs []error
	for _, c := range due {
		if ctx.Err() != nil {
			break
		}
		if err := o.Reconcile(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("partner call %s: %w", c.ID, err))
		}
	}
	return len(due), errors.Join(errs...)
}

func source(c domain.PartnerCall, src lifecycle.Source) lifecycle.Source {
	if src.Channel == "" {
		return lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelReconcile, Ref: c.ID}
	}
	return src
}

type resultIDs struct {
	PolicyID   string `json:"policy_id,omitempty"`
	ClaimID    string `json:"claim_id,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`
}

func encodeResult(r resultIDs) []byte {
	b, _ := json.Marshal(r) // plain strings: cannot fail
	return b
}

func decodeResult(c domain.PartnerCall) resultIDs {
	var r resultIDs
	_ = json.Unmarshal(c.Result, &r) // an empty result leaves the ids empty
	return r
}

// failedErr answers a retry whose earlier call the partner refused with that refusal.
func failedErr(c domain.PartnerCall) error {
	return apierror.New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED,
		"the partner refused this request: "+c.LastError, "partner", avata.PartnerName)
}
