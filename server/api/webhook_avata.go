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
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// Avata callbacks are hints: the new status is fetched from Avata (verify by fetch) before
// anything changes, and the fetch time orders the change. Mapping: policy ACCEPTED/APPROVED →
// ACTIVE, REJECTED → REJECTED, ERROR → FAILED, EXPIRED → EXPIRED (CREATED, PENDING, SEND and
// RETRYING change nothing); claim statuses one to one. A callback for a policy or claim we do
// not have (yet) is refused with 404, so Avata retries it after our own record commits.

type avataWebhooks struct {
	webhooksv1.UnimplementedAvataWebhookServiceServer
	d Deps
}

func newAvataWebhooks(d Deps) webhooksv1.AvataWebhookServiceServer { return &avataWebhooks{d: d} }

// avataPolicyTarget maps Avata's policy status; ok is false for the in-progress ones.
func avataPolicyTarget(s avata.PolicyStatus) (domain.PolicyStatus, bool) {
	switch s {
	case avata.PolicyAccepted, avata.PolicyApproved:
		return domain.PolicyActive, true
	case avata.PolicyRejected:
		return domain.PolicyRejected, true
	case avata.PolicyError:
		return domain.PolicyFailed, true
	case avata.PolicyExpired:
		return domain.PolicyExpired, true
	}
	return "", false
}

// verified is what the fetch said, taken before the transaction.
type verified struct {
	policyStatus avata.PolicyStatus
	policy       AvataPolicyUpdate // policy-update: the fetched data over the callback's
	claimStatus  avata.ClaimStatus
	at           time.Time
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
			return s.applyClaim(ctx, tx, body.GetUuid(), v, ack, src)
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
		return verified{}, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			"Avata reports another claim on this policy than the callback names", "partner", avata.PartnerName)
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
	if err != nil {
		return webhook.Outcome{}, fmt.Errorf("api: policy with Avata uuid %s: %w", uuid, err)
	}
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: p.CustomerID, Response: resp}
	to, _ := avataPolicyTarget(v.policyStatus) // "" while still in progress at Avata: data only
	_, err = ApplyAvataPolicy(ctx, tx, s.d.Lifecycle, p, v.policy, to, v.at, "avata "+string(v.policyStatus), src, s.now())
	var terr *domain.TransitionError
	if errors.As(err, &terr) {
		out.State, out.Error = domain.InboxIgnored, terr.Error()
		return out, nil
	}
	return out, err
}

func (s *avataWebhooks) applyClaim(ctx context.Context, tx store.Tx, uuid string, v verified, resp *webhooksv1.HandleCallbackResponse, src lifecycle.Source) (webhook.Outcome, error) {
	c, err := tx.FindClaimByAvataUUID(ctx, uuid)
	if err != nil {
		return webhook.Outcome{}, fmt.Errorf("api: claim with Avata uuid %s: %w", uuid, err)
	}
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: c.CustomerID, Response: resp}
	to := domain.ClaimStatus(v.claimStatus)
	if !to.Valid() {
		out.State, out.Error = domain.InboxIgnored, "unknown Avata claim status "+string(v.claimStatus)
		return out, nil
	}
	_, _, err = s.d.Lifecycle.TransitionClaim(ctx, tx, c, to, v.at, src)
	var terr *domain.TransitionError
	if errors.As(err, &terr) {
		out.State, out.Error = domain.InboxIgnored, terr.Error()
		return out, nil
	}
	return out, err
}
