package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// Avata callbacks are hints: the new status is fetched from Avata (verify by fetch) before
// anything changes, and the fetch time orders the change. The rules that map Avata's statuses
// and claims onto ours live in server/lifecycle (avatarules): policy ACCEPTED/APPROVED →
// ACTIVE, REJECTED → REJECTED, ERROR → FAILED, EXPIRED → EXPIRED (CREATED, PENDING, SEND and
// RETRYING change nothing); claim statuses one to one.
//
// A policy-update for a uuid we do not know is matched on the reference we sent with the
// confirm (a policy recorded after Avata said "already confirmed" has no uuid yet). A
// claim-update is matched on its policy (policyUuid): the claim with that uuid, else the
// policy's oldest claim without an Avata uuid (the uuid and details.claimId are attached),
// else a new claim record (filed outside Covergate). A callback for a policy we do not have
// (yet), or for a policy whose claim create is still in flight, is refused (404 / 503), so
// Avata retries it after our own record commits.

type avataWebhooks struct {
	webhooksv1.UnimplementedAvataWebhookServiceServer
	d Deps
}

func newAvataWebhooks(d Deps) webhooksv1.AvataWebhookServiceServer { return &avataWebhooks{d: d} }

// verified is what the fetch said, taken before the transaction.
type verified struct {
	policyStatus avata.PolicyStatus
	// policy-update: the fetched data over the callback's (the reference Avata holds for the
	// policy included: the details' purchase reference, else the callback's own)
	policy      AvataPolicyUpdate
	claimStatus avata.ClaimStatus
	at          time.Time
}

// HandleCallback applies a policy-update or claim-update callback.
func (s *avataWebhooks) HandleCallback(ctx context.Context, req *webhooksv1.HandleCallbackRequest) (*webhooksv1.HandleCallbackResponse, error) {
	dlv, err := delivery(ctx)
	if err != nil {
		return nil, err
	}
	key := "callback:" + webhook.HashKey(dlv.Raw)
	resp := &webhooksv1.HandleCallbackResponse{}
	if rec, seen, err := webhook.Seen(ctx, s.d.Store, domain.PartnerAvata, key); err != nil {
		return nil, webhookError(err)
	} else if seen {
		webhook.Report(ctx, req.GetEventType(), webhook.OutcomeDuplicate)
		return avataDuplicate(rec, resp)
	}
	body := req.GetBody()
	var v verified
	switch req.GetEventType() {
	case avata.EventPolicyUpdate:
		if v, err = s.fetchPolicy(ctx, body.GetUuid()); err != nil {
			return nil, err
		}
		v.policy = v.policy.Over(avataUpdateFromCallback(body))
	case avata.EventClaimUpdate:
		if v, err = s.fetchClaim(ctx, body); err != nil {
			return nil, err
		}
	}
	in := webhook.Inbound{Delivery: dlv, DeliveryKey: key, EventType: req.GetEventType()}
	res, err := webhook.Record(ctx, s.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		src := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelWebhook, Ref: rec.ID}
		ack := &webhooksv1.HandleCallbackResponse{Status: ackProcessed, DeliveryId: rec.ID}
		switch req.GetEventType() {
		case avata.EventPolicyUpdate:
			return s.applyPolicy(ctx, tx, body.GetUuid(), v, ack, src)
		case avata.EventClaimUpdate:
			return s.applyClaim(ctx, tx, body, v, ack, src)
		}
		if err := s.d.Lifecycle.RecordUnrecognized(ctx, tx, domain.PartnerAvata, req.GetEventType(), rec.ID); err != nil {
			return webhook.Outcome{}, err
		}
		logUnrecognized(ctx, s.d, domain.PartnerAvata, req.GetEventType(), rec.ID)
		ack.Status = ackIgnored
		return webhook.Outcome{State: domain.InboxIgnored, Error: "unrecognized event type", Response: ack, Unrecognized: true}, nil
	})
	if err != nil {
		return nil, webhookError(err)
	}
	if res.Duplicate {
		return avataDuplicate(res.Record, resp)
	}
	return resp, nil
}

func avataDuplicate(rec domain.InboxRecord, resp *webhooksv1.HandleCallbackResponse) (*webhooksv1.HandleCallbackResponse, error) {
	if err := webhook.Replay(rec, resp); err != nil {
		return nil, webhookError(err)
	}
	resp.Status, resp.DeliveryId = ackDuplicate, rec.ID
	return resp, nil
}

func (s *avataWebhooks) fetchPolicy(ctx context.Context, uuid string) (verified, error) {
	p, err := s.d.Avata.PolicyDetails(ctx, uuid)
	if err != nil {
		return verified{}, err
	}
	return verified{policyStatus: p.Status, policy: AvataUpdateFromPolicy(p), at: s.now()}, nil
}

// fetchClaim reads the claim on the callback's policy with the policy owner's wallet (ours for
// custodial policies, the customer's wallet session otherwise) and checks it is the claim the
// callback names.
func (s *avataWebhooks) fetchClaim(ctx context.Context, body *webhooksv1.AvataCallbackBody) (verified, error) {
	if body.GetPolicyUuid() == "" {
		return verified{}, apierror.Invalid("a claim-update needs body.policyUuid",
			[]apierror.FieldViolation{{Field: "body.policy_uuid", Description: "the policy of the claim", Reason: "required"}})
	}
	var signer avata.Wallet
	if w := s.d.Avata.MerchantWallet(); w != nil {
		signer = w
	}
	if pol, err := s.d.Store.FindPolicyByAvataUUID(ctx, body.GetPolicyUuid()); err == nil {
		if signer, err = s.d.policyWallet(ctx, pol); err != nil {
			return verified{}, err
		}
	}
	if signer == nil {
		return verified{}, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED,
			"no Avata merchant wallet is configured: claim updates cannot be verified", "partner", avata.PartnerName)
	}
	c, err := s.d.Avata.ClaimStatus(ctx, signer, body.GetPolicyUuid())
	if err != nil {
		return verified{}, err
	}
	if c.UUID != "" && c.UUID != body.GetUuid() {
		// Avata's status call describes its current claim on the policy, which is another one:
		// the callback's claim is still recorded (uuid and claim id), its status is not verified.
		return verified{at: s.now()}, nil
	}
	return verified{claimStatus: c.Status, at: s.now()}, nil
}

func (s *avataWebhooks) now() time.Time {
	if s.d.Now != nil {
		return s.d.Now()
	}
	return time.Now()
}

func (s *avataWebhooks) applyPolicy(ctx context.Context, tx store.Tx, uuid string, v verified, resp *webhooksv1.HandleCallbackResponse, src lifecycle.Source) (webhook.Outcome, error) {
	p, err := tx.FindPolicyByAvataUUID(ctx, uuid)
	if errors.Is(err, store.ErrNotFound) {
		// Recorded without a uuid (Avata said "already confirmed" without it)? Our reference names it.
		byRef, rerr := tx.FindPolicyByAvataReference(ctx, v.policy.Data.Reference)
		if rerr != nil || byRef.Partner != domain.PartnerAvata || byRef.AvataPolicyUUID != "" {
			return webhook.Outcome{}, fmt.Errorf("api: policy with Avata uuid %s: %w", uuid, err)
		}
		if p, err = s.d.Lifecycle.AttachAvataPolicy(ctx, tx, byRef, uuid); err != nil {
			return webhook.Outcome{}, err
		}
	} else if err != nil {
		return webhook.Outcome{}, fmt.Errorf("api: policy with Avata uuid %s: %w", uuid, err)
	}
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: p.CustomerID, Response: resp}
	// Avata's data and its status rule (avatarules.PolicyTarget; "" while still in progress at
	// Avata: data only), in one write through the lifecycle.
	reported, dataChanged := MergeAvata(p, v.policy, s.now())
	_, err = s.d.Lifecycle.ApplyAvataPolicyReport(ctx, tx, p, reported, dataChanged, string(v.policyStatus), v.at, src)
	var terr *domain.TransitionError
	if errors.As(err, &terr) {
		out.State, out.Error = domain.InboxIgnored, terr.Error()
		return out, nil
	}
	return out, err
}

func (s *avataWebhooks) applyClaim(ctx context.Context, tx store.Tx, body *webhooksv1.AvataCallbackBody, v verified, resp *webhooksv1.HandleCallbackResponse, src lifecycle.Source) (webhook.Outcome, error) {
	p, err := tx.FindPolicyByAvataUUID(ctx, body.GetPolicyUuid())
	if err != nil {
		return webhook.Outcome{}, fmt.Errorf("api: policy with Avata uuid %s of claim %s: %w", body.GetPolicyUuid(), body.GetUuid(), err)
	}
	if _, err := tx.FindClaimByAvataUUID(ctx, body.GetUuid()); errors.Is(err, store.ErrNotFound) {
		// Our own claim create on this policy may be in flight: its record decides which claim
		// this is, so the callback waits (Avata retries it).
		if call, err := tx.FindPartnerCall(ctx, partnerops.ClaimKey(p.ID)); err == nil && call.State == domain.PartnerCallPending {
			return webhook.Outcome{}, apierror.New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
				"a claim on this policy is being recorded: send the callback again", "partner", avata.PartnerName)
		}
	} else if err != nil {
		return webhook.Outcome{}, fmt.Errorf("api: claim with Avata uuid %s: %w", body.GetUuid(), err)
	}
	c, _, err := s.d.Lifecycle.ApplyAvataClaim(ctx, tx, lifecycle.AvataClaim{
		Policy: p, UUID: body.GetUuid(), ClaimID: body.GetDetails().GetClaimId(), Status: string(v.claimStatus), At: v.at,
	}, src)
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: p.CustomerID, Response: resp}
	var terr *domain.TransitionError
	if errors.As(err, &terr) {
		out.State, out.Error, out.CustomerID = domain.InboxIgnored, terr.Error(), c.CustomerID
		return out, nil
	}
	if err == nil && v.claimStatus != "" && !domain.ClaimStatus(v.claimStatus).Valid() {
		out.State, out.Error = domain.InboxIgnored, "unknown Avata claim status "+string(v.claimStatus)
	}
	return out, err
}
