package partnerops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// Purchase is the confirmation of one quote's proposal with Avata.
type Purchase struct {
	QuoteID string
	// RequestHash identifies the caller's purchase: a retry of the same purchase gets the policy
	// the first one recorded; another purchase of a bought quote is refused.
	RequestHash string
	// Policy is the policy to record once Avata confirms (ID and AvataReference set; the Avata
	// uuid is filled in from the answer).
	Policy domain.Policy
	// Wallet is the buyer's own wallet (lower case), which identifies the customer to create
	// when Policy.CustomerID is empty; Profile is what we know of the holder.
	Wallet  string
	Profile *domain.Profile
	// Exactly one of the confirm requests.
	NFT          *avata.NFTConfirmRequest          `json:",omitempty"`
	Booking      *avata.BookingConfirmRequest      `json:",omitempty"`
	DigitalAsset *avata.DigitalAssetConfirmRequest `json:",omitempty"`
	// Source is where the purchase came from (recorded in the events).
	Source lifecycle.Source `json:"-"`
}

func confirmKey(quoteID string) string { return domain.OpAvataConfirm + ":" + quoteID }

// Buy confirms the purchase with Avata and records the policy PENDING (see the package comment
// for what happens when the answer is late or lost). A second purchase of a quote whose
// purchase is in flight or done gets that purchase's policy when it is the same purchase, and
// ALREADY_EXISTS when it is another.
func (o *Ops) Buy(ctx context.Context, in Purchase) (domain.Policy, error) {
	key := confirmKey(in.QuoteID)
	for round := 0; round < 3; round++ {
		prev, err := o.cfg.Store.FindPartnerCall(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return domain.Policy{}, fmt.Errorf("partnerops: purchase of quote %s: %w", in.QuoteID, err)
		case prev.State != domain.PartnerCallFailed:
			if prev.RequestHash != in.RequestHash {
				return domain.Policy{}, apierror.New(codes.AlreadyExists, insurancev1.ErrorReason_ERROR_REASON_ALREADY_EXISTS,
					"quote "+in.QuoteID+" is already bought (or being bought) with another purchase: request a new quote",
					"quote_id", in.QuoteID)
			}
			if prev, err = o.wait(ctx, prev); err != nil {
				return domain.Policy{}, errInProgress("the purchase")
			}
			if prev.State == domain.PartnerCallSucceeded {
				return o.cfg.Store.GetPolicy(ctx, decodeResult(prev).PolicyID)
			}
			continue // the earlier attempt was refused: this one tries again
		}
		req, err := json.Marshal(in)
		if err != nil {
			return domain.Policy{}, fmt.Errorf("partnerops: encode purchase: %w", err)
		}
		call, err := o.begin(ctx, domain.PartnerCall{
			Operation: domain.OpAvataConfirm, Subject: domain.SubjectPolicies + in.Policy.ID, DedupeKey: key,
			RequestHash: in.RequestHash, Request: req, CustomerID: in.Policy.CustomerID,
		})
		if errors.Is(err, store.ErrDuplicate) {
			continue // a concurrent purchase of the same quote began first: look at it
		}
		if err != nil {
			return domain.Policy{}, fmt.Errorf("partnerops: record purchase intent: %w", err)
		}
		return detach(o, ctx, func(ctx context.Context) (domain.Policy, error) {
			conf, err := o.sendConfirm(ctx, in)
			return o.afterConfirm(ctx, call, in, conf, err)
		})
	}
	return domain.Policy{}, errInProgress("the purchase")
}

func (o *Ops) sendConfirm(ctx context.Context, in Purchase) (*avata.Confirmation, error) {
	switch {
	case in.NFT != nil:
		return o.cfg.Avata.ConfirmNFT(ctx, *in.NFT)
	case in.Booking != nil:
		return o.cfg.Avata.ConfirmBooking(ctx, *in.Booking)
	case in.DigitalAsset != nil:
		return o.cfg.Avata.ConfirmDigitalAsset(ctx, *in.DigitalAsset)
	}
	return nil, &notSentError{errors.New("partnerops: purchase without a confirm request")}
}

// afterConfirm records the outcome of a confirm call (first send or resend).
func (o *Ops) afterConfirm(ctx context.Context, call domain.PartnerCall, in Purchase, conf *avata.Confirmation, err error) (domain.Policy, error) {
	switch {
	case err == nil && conf != nil && conf.ID != "":
		return o.recordPolicy(ctx, call, in, conf.ID, "")
	case err == nil:
		err = apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			"the carrier confirmed without a policy id", "partner", avata.PartnerName)
		o.unknown(ctx, call, err)
		return domain.Policy{}, err
	case isAvata(err, avata.CodeAlreadyConfirmed):
		// Avata has this quote's policy: an earlier attempt of ours got through. Record it;
		// its uuid comes from the merchant wallet's policies or the policy-update callback.
		uuid, status := o.findPolicyByReference(ctx, in.Policy.AvataReference)
		return o.recordPolicy(ctx, call, in, uuid, status)
	case classify(err) == outcomeNo:
		o.fail(ctx, call, err)
		return domain.Policy{}, err
	}
	o.unknown(ctx, call, err)
	return domain.Policy{}, err
}

// findPolicyByReference looks our reference up among the merchant wallet's policies (custodial
// purchases). Avata has no lookup by reference; "" when it cannot be found this way.
func (o *Ops) findPolicyByReference(ctx context.Context, ref string) (uuid, status string) {
	w := o.cfg.Avata.MerchantWallet()
	if w == nil || ref == "" {
		return "", ""
	}
	policies, err := o.cfg.Avata.PoliciesForWallet(ctx, w)
	if err != nil {
		o.cfg.Logger.WarnContext(ctx, "partnerops: merchant wallet policies unavailable", "error", err)
		return "", ""
	}
	for _, p := range policies {
		if p.PurchaseData.Reference == ref {
			return p.UUID, string(p.Status)
		}
	}
	return "", ""
}

// recordPolicy records the confirmed policy (uuid may be "": attached later by reference) and
// settles the call, in one transaction.
func (o *Ops) recordPolicy(ctx context.Context, call domain.PartnerCall, in Purchase, uuid, avataStatus string) (domain.Policy, error) {
	var out domain.Policy
	settled, err := o.settle(ctx, call.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
		src := source(cur, in.Source)
		p := in.Policy
		p.AvataPolicyUUID = uuid
		if uuid != "" {
			// Recorded already (a policy-update callback or another replica): keep that record.
			if existing, err := tx.FindPolicyByAvataUUID(ctx, uuid); err == nil {
				out = existing
				return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallSucceeded,
					encodeResult(resultIDs{PolicyID: existing.ID}), "")
			} else if !errors.Is(err, store.ErrNotFound) {
				return cur, err
			}
		}
		if p.CustomerID == "" && in.Wallet != "" {
			c, _, err := o.cfg.Lifecycle.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{AvataWallet: in.Wallet, Profile: in.Profile}, src)
			if err != nil {
				return cur, err
			}
			p.CustomerID = c.ID
		}
		p.StatusTime = time.Time{}
		created, err := o.cfg.Lifecycle.CreatePolicy(ctx, tx, p, src)
		if err != nil {
			return cur, err
		}
		if avataStatus != "" {
			var terr *domain.TransitionError
			if created, _, err = o.cfg.Lifecycle.ApplyAvataPolicyStatus(ctx, tx, created, avataStatus, o.now(), src); err != nil && !errors.As(err, &terr) {
				return cur, err
			}
		}
		out = created
		return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallSucceeded, encodeResult(resultIDs{PolicyID: created.ID}), "")
	})
	if err != nil {
		// Avata has the policy and we could not record it: the call stays PENDING and the
		// reconciler records it (resend → "already confirmed" → by reference).
		o.cfg.Logger.ErrorContext(ctx, "policy confirmed by Avata but not recorded yet: the reconciler will record it",
			"partner_call_id", call.ID, "avata_policy_uuid", uuid, "error", err)
		return domain.Policy{}, &recordError{fmt.Errorf("partnerops: record confirmed policy: %w", err)}
	}
	if out.ID == "" { // settled by someone else
		if settled.State != domain.PartnerCallSucceeded {
			return domain.Policy{}, failedErr(settled)
		}
		return o.cfg.Store.GetPolicy(ctx, decodeResult(settled).PolicyID)
	}
	if uuid == "" {
		o.cfg.Logger.WarnContext(ctx, "policy recorded without its Avata uuid: it is attached when Avata's policy-update callback names our reference",
			"policy_id", out.ID, "partner_call_id", call.ID)
	}
	return out, nil
}

// reconcileConfirm sends the confirm again: Avata either confirms now (the first never
// arrived) or says "already confirmed" (it did), which recordPolicy resolves by reference.
func (o *Ops) reconcileConfirm(ctx context.Context, c domain.PartnerCall) error {
	var in Purchase
	if err := json.Unmarshal(c.Request, &in); err != nil {
		o.fail(ctx, c, fmt.Errorf("undecodable request: %w", err))
		return nil
	}
	conf, err := o.sendConfirm(ctx, in)
	_, err = o.afterConfirm(ctx, c, in, conf, err)
	if err != nil && classify(err) == outcomeNo {
		return nil // refused and recorded as such
	}
	return ignoreSettled(err)
}
