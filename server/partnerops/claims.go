package partnerops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// ClaimFiling is one claim to file with Avata.
type ClaimFiling struct {
	Policy      domain.Policy
	RequestHash string
	// Claim is the claim to record (ID, reason, claimant e-mail, document keys); policy,
	// customer, status and Avata ids are filled in.
	Claim   domain.Claim
	Request avata.CreateClaimRequest
	// Wallet signs the claim and its status checks: the customer's wallet token for a policy
	// bought to the customer's own wallet, our merchant wallet otherwise. It is never stored
	// (a token is a secret): a reconciliation derives it again from the policy (walletFor).
	// nil: derived from the policy.
	Wallet avata.Wallet     `json:"-"`
	Source lifecycle.Source `json:"-"`
}

// ClaimKey is the dedupe key of the claim creates on a policy (one in flight at a time).
func ClaimKey(policyID string) string { return domain.OpAvataClaimCreate + ":" + policyID }

// FileClaim files a claim with Avata and records it at once — also when Avata's answer carries
// no claim uuid, as documented: the uuid (and Avata's claim id) is attached when the claim
// status call or the first claim-update callback reveals it. One claim per policy is filed at
// a time. When Avata answers that the policy already has a claim, that claim is recorded (it
// must never be missing here) and the caller gets PARTNER_CONFLICT naming it.
func (o *Ops) FileClaim(ctx context.Context, in ClaimFiling) (domain.Claim, error) {
	key := ClaimKey(in.Policy.ID)
	for round := 0; round < 3; round++ {
		prev, err := o.cfg.Store.FindPartnerCall(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return domain.Claim{}, fmt.Errorf("partnerops: claim on policy %s: %w", in.Policy.ID, err)
		case prev.RequestHash == in.RequestHash && prev.State == domain.PartnerCallSucceeded:
			return o.cfg.Store.GetClaim(ctx, decodeResult(prev).ClaimID) // the same claim again
		case prev.State == domain.PartnerCallPending:
			if prev.RequestHash != in.RequestHash {
				return domain.Claim{}, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
					"another claim on this policy is being filed with the carrier: wait for it", "resource", "policy")
			}
			if _, err = o.wait(ctx, prev); err != nil {
				return domain.Claim{}, errInProgress("the claim")
			}
			continue
		}
		req, err := json.Marshal(in)
		if err != nil {
			return domain.Claim{}, fmt.Errorf("partnerops: encode claim: %w", err)
		}
		call, err := o.begin(ctx, domain.PartnerCall{
			Operation: domain.OpAvataClaimCreate, Subject: domain.SubjectClaims + in.Claim.ID, DedupeKey: key,
			RequestHash: in.RequestHash, Request: req, CustomerID: in.Policy.CustomerID,
		})
		if errors.Is(err, store.ErrDuplicate) {
			continue
		}
		if err != nil {
			return domain.Claim{}, fmt.Errorf("partnerops: record claim intent: %w", err)
		}
		return detach(o, ctx, func(ctx context.Context) (domain.Claim, error) {
			remote, err := o.sendClaim(ctx, in)
			return o.afterClaim(ctx, call, in, remote, err)
		})
	}
	return domain.Claim{}, errInProgress("the claim")
}

func (o *Ops) signer() (avata.Signer, error) {
	w := o.cfg.Avata.MerchantWallet()
	if w == nil {
		return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED,
			"no Avata merchant wallet is configured (avata-merchant-wallet-key): claims cannot be filed", "partner", avata.PartnerName)
	}
	return w, nil
}

// walletFor is the wallet a claim on in.Policy is filed and looked up with: in.Wallet when the
// caller resolved it, else our merchant wallet for a custodial policy, else the customer's
// stored wallet session (Config.CustomerWallet). A customer's policy is never signed for with
// the merchant wallet: Avata would refuse it, or worse, accept it for the wrong owner.
func (o *Ops) walletFor(ctx context.Context, in ClaimFiling) (avata.Wallet, error) {
	if in.Wallet != nil {
		return in.Wallet, nil
	}
	if in.Policy.Avata.OwnerWallet == "" {
		return o.signer()
	}
	if o.cfg.CustomerWallet == nil {
		return nil, fmt.Errorf("partnerops: policy %s belongs to the customer's wallet %s and no customer wallet sessions are available",
			in.Policy.ID, in.Policy.Avata.OwnerWallet)
	}
	w, err := o.cfg.CustomerWallet(ctx, in.Policy.CustomerID, in.Policy.Avata.OwnerWallet)
	if err != nil {
		return nil, fmt.Errorf("partnerops: the customer's wallet session for policy %s: %w", in.Policy.ID, err)
	}
	return w, nil
}

func (o *Ops) sendClaim(ctx context.Context, in ClaimFiling) (*avata.Claim, error) {
	w, err := o.walletFor(ctx, in)
	if err != nil {
		return nil, &notSentError{err}
	}
	return o.cfg.Avata.CreateClaim(ctx, w, in.Request)
}

// sessionRefused reports Avata refusing a customer's wallet token (expired early or revoked).
func sessionRefused(err error) bool {
	return apierror.ReasonOf(err) == insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED.String()
}

func (o *Ops) afterClaim(ctx context.Context, call domain.PartnerCall, in ClaimFiling, remote *avata.Claim, err error) (domain.Claim, error) {
	switch {
	case err == nil:
		c, err := o.recordOwnClaim(ctx, call, in, remote.UUID, string(remote.Status))
		if err == nil && c.AvataClaimUUID == "" {
			c = o.lookUpClaim(ctx, in, c)
		}
		return c, err
	case avata.IsClaimExists(err): // every reading: 409, 400 or 200 "claim exists"
		if call.Attempts > 1 {
			// A resend: our earlier send got through.
			st := o.claimStatus(ctx, in)
			return o.recordOwnClaim(ctx, call, in, st.UUID, string(st.Status))
		}
		return domain.Claim{}, o.recordForeignClaim(ctx, call, in, err)
	case classify(err) == outcomeNo:
		o.fail(ctx, call, err)
		return domain.Claim{}, err
	}
	o.unknown(ctx, call, err)
	return domain.Claim{}, err
}

// claimStatus asks Avata for the claim on the filing's policy, with the filing's wallet; a zero
// claim when it cannot tell.
func (o *Ops) claimStatus(ctx context.Context, in ClaimFiling) avata.Claim {
	p := in.Policy
	w, err := o.walletFor(ctx, in)
	if err != nil {
		o.cfg.Logger.WarnContext(ctx, "partnerops: Avata claim status not asked", "policy_id", p.ID, "error", err)
		return avata.Claim{}
	}
	st, err := o.cfg.Avata.ClaimStatus(ctx, w, p.AvataPolicyUUID)
	if err != nil {
		o.cfg.Logger.WarnContext(ctx, "partnerops: Avata claim status unavailable", "policy_id", p.ID, "error", err)
		return avata.Claim{}
	}
	return *st
}

// recordOwnClaim records the claim we filed and settles the call.
func (o *Ops) recordOwnClaim(ctx context.Context, call domain.PartnerCall, in ClaimFiling, uuid, avataStatus string) (domain.Claim, error) {
	var out domain.Claim
	settled, err := o.settle(ctx, call.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
		src := source(cur, in.Source)
		c := in.Claim
		c.PolicyID, c.CustomerID, c.AvataClaimUUID, c.Status = in.Policy.ID, in.Policy.CustomerID, uuid, domain.ClaimCreated
		var err error
		if uuid != "" {
			if existing, ferr := tx.FindClaimByAvataUUID(ctx, uuid); ferr == nil {
				c = existing // recorded meanwhile
			} else if !errors.Is(ferr, store.ErrNotFound) {
				return cur, ferr
			} else if c, err = o.cfg.Lifecycle.CreateClaim(ctx, tx, c, src); err != nil {
				return cur, err
			}
		} else if c, err = o.cfg.Lifecycle.CreateClaim(ctx, tx, c, src); err != nil {
			return cur, err
		}
		if to, ok := domain.ClaimStatus(avataStatus), domain.ClaimStatus(avataStatus).Valid(); ok && to != c.Status {
			var terr *domain.TransitionError
			if c, _, err = o.cfg.Lifecycle.TransitionClaim(ctx, tx, c, to, o.now(), src); err != nil && !errors.As(err, &terr) {
				return cur, err
			}
		}
		out = c
		return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallSucceeded, encodeResult(resultIDs{ClaimID: c.ID}), "")
	})
	if err != nil {
		o.cfg.Logger.ErrorContext(ctx, "claim filed with Avata but not recorded yet: the reconciler will record it",
			"partner_call_id", call.ID, "policy_id", in.Policy.ID, "error", err)
		return domain.Claim{}, &recordError{fmt.Errorf("partnerops: record filed claim: %w", err)}
	}
	if out.ID == "" {
		if settled.State != domain.PartnerCallSucceeded {
			return domain.Claim{}, failedErr(settled)
		}
		return o.cfg.Store.GetClaim(ctx, decodeResult(settled).ClaimID)
	}
	return out, nil
}

// lookUpClaim asks Avata's claim status for a claim recorded without a uuid: if the answer
// carries one it is attached, and the status is applied (avatarules.MatchClaim). Best effort:
// the claim-update callback does the same.
func (o *Ops) lookUpClaim(ctx context.Context, in ClaimFiling, c domain.Claim) domain.Claim {
	p := in.Policy
	st := o.claimStatus(ctx, in)
	if st.Status == "" {
		return c
	}
	var out domain.Claim
	err := o.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, _, err = o.cfg.Lifecycle.ApplyAvataClaim(ctx, tx, lifecycle.AvataClaim{
			Policy: p, UUID: st.UUID, Status: string(st.Status), At: o.now(),
		}, lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelPoll, Ref: c.ID})
		var terr *domain.TransitionError
		if errors.As(err, &terr) {
			return nil
		}
		return err
	})
	if err != nil || out.ID != c.ID {
		if err != nil {
			o.cfg.Logger.WarnContext(ctx, "partnerops: claim status not applied", "claim_id", c.ID, "error", err)
		}
		if fresh, gerr := o.cfg.Store.GetClaim(ctx, c.ID); gerr == nil {
			return fresh
		}
		return c
	}
	return out
}

// recordForeignClaim handles Avata's "this policy already has a claim" to a first send: that
// claim is not ours (ours never reached Avata before), so it is recorded against the policy
// from Avata's claim status if we do not hold it yet, our call is marked FAILED, and the
// caller gets PARTNER_CONFLICT naming the claim.
func (o *Ops) recordForeignClaim(ctx context.Context, call domain.PartnerCall, in ClaimFiling, cause error) error {
	st := o.claimStatus(ctx, in)
	var claimID string
	_, err := o.settle(ctx, call.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
		if st.Status != "" {
			c, _, err := o.cfg.Lifecycle.ApplyAvataClaim(ctx, tx, lifecycle.AvataClaim{
				Policy: in.Policy, UUID: st.UUID, Status: string(st.Status), At: o.now(),
			}, lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelPoll, Ref: cur.ID})
			var terr *domain.TransitionError
			if err != nil && !errors.As(err, &terr) {
				return cur, err
			}
			claimID = c.ID
		}
		return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallFailed, encodeResult(resultIDs{ClaimID: claimID}), cause.Error())
	})
	if err != nil {
		o.cfg.Logger.ErrorContext(ctx, "partnerops: existing Avata claim not recorded", "policy_id", in.Policy.ID, "error", err)
	}
	kv := []string{"partner", avata.PartnerName, "http_status", "409", "partner_code", avata.CodeClaimExists}
	if claimID != "" {
		kv = append(kv, "claim_id", claimID)
	}
	return apierror.New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT,
		"the carrier already has a claim on this policy (one claim per policy at a time)", kv...)
}

// reconcileClaim resolves a claim create whose answer was lost: Avata's claim status on the
// policy says whether a new claim exists there; if it does not, the claim is filed again
// (Avata refuses a second claim, so a resend cannot file it twice).
func (o *Ops) reconcileClaim(ctx context.Context, c domain.PartnerCall) error {
	var in ClaimFiling
	if err := json.Unmarshal(c.Request, &in); err != nil {
		o.fail(ctx, c, fmt.Errorf("undecodable request: %w", err))
		return nil
	}
	// The wallet is derived again from the policy: the customer's session for a policy bought to
	// the customer's wallet. Without one (signed out, expired) nobody can ask or resend for the
	// customer: the call stays PENDING (and is logged) until the customer signs in again.
	w, err := o.walletFor(ctx, in)
	if err != nil {
		if in.Policy.Avata.OwnerWallet == "" {
			return err // no merchant wallet: a configuration problem the round reports
		}
		o.unknown(ctx, c, err)
		return nil
	}
	in.Wallet = w
	st, err := o.cfg.Avata.ClaimStatus(ctx, w, in.Policy.AvataPolicyUUID)
	switch {
	case err == nil && o.isNewClaim(ctx, in.Policy.ID, st.UUID):
		_, err = o.recordOwnClaim(ctx, c, in, st.UUID, string(st.Status))
		return ignoreSettled(err)
	case err == nil || isNotFound(err):
		remote, err := o.sendClaim(ctx, in)
		if err != nil && sessionRefused(err) {
			// Avata refused the customer's token: the outcome is still unknown, not a no.
			o.unknown(ctx, c, err)
			return nil
		}
		_, err = o.afterClaim(ctx, c, in, remote, err)
		return ignoreSettled(err)
	}
	o.unknown(ctx, c, err)
	return nil
}

// isNewClaim reports whether the claim Avata's status call describes can be the one we filed:
// it is not one of the claims we already hold on the policy.
func (o *Ops) isNewClaim(ctx context.Context, policyID, uuid string) bool {
	claims, err := o.cfg.Store.ListClaims(ctx, store.ClaimFilter{PolicyID: policyID}, store.PageRequest{Size: store.MaxPageSize})
	if err != nil {
		return false
	}
	if uuid == "" {
		return len(claims.Items) == 0
	}
	for _, c := range claims.Items {
		if c.AvataClaimUUID == uuid {
			return false
		}
	}
	return true
}
