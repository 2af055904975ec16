package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/lifecycle/avatarules"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// What Avata reports about a policy — policy details (refresh, callbacks' verify-by-fetch), a
// wallet's policies, the policy-update callback's reference and details — is kept on the policy:
// Avata's policy id, hash and type, its status name, the reference it reports, the start and end
// of cover and finishedAt. Non-empty values overwrite stored ones; empty ones never erase what an
// earlier answer said (Avata's answers differ in how much they carry).

// AvataPolicyUpdate is one report of policy data from Avata.
type AvataPolicyUpdate struct {
	Data  domain.AvataPolicyData // OwnerWallet and SyncTime are ignored
	Start time.Time
	End   time.Time
}

// parseAvataTime reads Avata's date-times ("2021-01-01T00:00:00.000Z"; RFC 3339 with or
// without fraction, or a bare date). Anything else is left out rather than guessed.
func parseAvataTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// AvataUpdateFromPolicy is the data of a policy as Avata's details and wallet calls return it.
func AvataUpdateFromPolicy(p *avata.Policy) AvataPolicyUpdate {
	if p == nil {
		return AvataPolicyUpdate{}
	}
	return AvataPolicyUpdate{
		Data: domain.AvataPolicyData{
			PolicyID: p.PolicyID, PolicyHash: p.PolicyHash, PolicyType: p.PolicyType, PartnerStatus: string(p.Status),
			Reference: p.PurchaseData.Reference, FinishTime: parseAvataTime(p.FinishedAt),
		},
		Start: parseAvataTime(p.StartDateTime), End: parseAvataTime(p.EndDateTime),
	}
}

// avataUpdateFromCallback is what a policy-update callback body carries.
func avataUpdateFromCallback(b *webhooksv1.AvataCallbackBody) AvataPolicyUpdate {
	d := b.GetDetails()
	return AvataPolicyUpdate{
		Data: domain.AvataPolicyData{
			PolicyID: d.GetPolicyId(), PolicyType: d.GetPolicyType(), PartnerStatus: b.GetStatus(), Reference: b.GetReference(),
		},
		Start: parseAvataTime(d.GetStartDateTime()), End: parseAvataTime(d.GetEndDateTime()),
	}
}

// Over fills u's empty values from base: u (a fetched policy) wins, base (the callback, which
// is only a hint) fills the gaps.
func (u AvataPolicyUpdate) Over(base AvataPolicyUpdate) AvataPolicyUpdate {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	pickT := func(a, b time.Time) time.Time {
		if !a.IsZero() {
			return a
		}
		return b
	}
	return AvataPolicyUpdate{
		Data: domain.AvataPolicyData{
			PolicyID: pick(u.Data.PolicyID, base.Data.PolicyID), PolicyHash: pick(u.Data.PolicyHash, base.Data.PolicyHash),
			PolicyType: pick(u.Data.PolicyType, base.Data.PolicyType), PartnerStatus: pick(u.Data.PartnerStatus, base.Data.PartnerStatus),
			Reference: pick(u.Data.Reference, base.Data.Reference), FinishTime: pickT(u.Data.FinishTime, base.Data.FinishTime),
		},
		Start: pickT(u.Start, base.Start), End: pickT(u.End, base.End),
	}
}

// MergeAvata applies u to p; changed reports whether anything differs (SyncTime then becomes now).
func MergeAvata(p domain.Policy, u AvataPolicyUpdate, now time.Time) (domain.Policy, bool) {
	changed := false
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	setT := func(dst *time.Time, v time.Time) {
		v = v.UTC().Truncate(time.Microsecond)
		if !v.IsZero() && !dst.Equal(v) {
			*dst, changed = v, true
		}
	}
	a := &p.Avata
	set(&a.PolicyID, u.Data.PolicyID)
	set(&a.PolicyHash, u.Data.PolicyHash)
	set(&a.PolicyType, u.Data.PolicyType)
	set(&a.PartnerStatus, u.Data.PartnerStatus)
	set(&a.Reference, u.Data.Reference)
	setT(&a.FinishTime, u.Data.FinishTime)
	setT(&p.StartTime, u.Start)
	setT(&p.EndTime, u.End)
	if changed {
		a.SyncTime = now
	}
	return p, changed
}

// ApplyAvataPolicy records u on p and, when to is set and the state machine allows it, moves p
// to `to` as of at, in the caller's transaction (lifecycle.ApplyAvataPolicy). A move the state
// machine refuses is returned as the *domain.TransitionError after the data was still recorded.
func ApplyAvataPolicy(ctx context.Context, tx store.Tx, lc *lifecycle.Lifecycle, p domain.Policy, u AvataPolicyUpdate,
	to domain.PolicyStatus, at time.Time, reason string, src lifecycle.Source, now time.Time,
) (domain.Policy, error) {
	merged, dataChanged := MergeAvata(p, u, now)
	return lc.ApplyAvataPolicy(ctx, tx, p, merged, dataChanged, to, at, reason, src)
}

// GetPolicyRequestStatus asks Avata where the policy request stands and returns the answer as is.
func (s *PolicyService) GetPolicyRequestStatus(ctx context.Context, req *insurancev1.GetPolicyRequestStatusRequest) (*insurancev1.GetPolicyRequestStatusResponse, error) {
	p, err := s.d.Store.GetPolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, storeError(err, "policy")
	}
	if p.Partner != domain.PartnerAvata || p.AvataPolicyUUID == "" {
		return nil, invalidState("only Avata policies have a carrier request status", "resource", "policy")
	}
	st, err := s.d.Avata.PolicyRequestStatus(ctx, p.AvataPolicyUUID)
	if err != nil {
		return nil, err
	}
	out := &insurancev1.GetPolicyRequestStatusResponse{
		PolicyId: p.ID, AvataPolicyUuid: p.AvataPolicyUUID, EventType: st.EventType,
		PartnerStatus: string(st.Body.Status), Reference: st.Body.Reference,
	}
	if st.Body.UUID != "" && st.Body.UUID != p.AvataPolicyUUID {
		return nil, apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			"the carrier answered about another policy", "partner", avata.PartnerName)
	}
	if to, settled := avatarules.PolicyTarget(string(st.Body.Status)); settled {
		out.MappedStatus = PolicyStatusToProto(to)
	}
	return out, nil
}

// ListWalletPolicies lists the policies Avata holds for the customer's wallet, with the token of
// the customer's wallet session.
func (s *PolicyService) ListWalletPolicies(ctx context.Context, req *insurancev1.ListWalletPoliciesRequest) (*insurancev1.ListWalletPoliciesResponse, error) {
	c, err := activeCustomer(ctx, s.d.Store, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	wallet := c.AvataWallet
	if wallet == "" {
		return nil, signInRequired(c.ID, "", "customer "+c.ID+" has no wallet: sign in with the customer's wallet first (wallet-session:start, then :complete)")
	}
	tok, err := s.d.customerToken(ctx, c.ID, wallet)
	if err != nil {
		return nil, err
	}
	remote, err := s.d.Avata.PoliciesForWallet(ctx, tok)
	if err != nil {
		return nil, s.d.walletCallFailed(ctx, c.ID, tok, err)
	}
	out := &insurancev1.ListWalletPoliciesResponse{WalletAddress: tok.Wallet, ChainId: tok.ChainID}
	if out.ChainId == 0 {
		out.ChainId = s.d.Avata.ChainID()
	}
	for i := range remote {
		rp := &remote[i]
		u := AvataUpdateFromPolicy(rp)
		cp := &insurancev1.CarrierPolicy{
			AvataPolicyUuid: rp.UUID, Avata: AvataPolicyDataToProto(u.Data),
			StartTime: ts(u.Start), EndTime: ts(u.End), TotalValue: rp.PurchaseData.TotalValue,
			Duration: rp.PurchaseData.Duration, CoveragePercentage: rp.PurchaseData.CoveragePercentage,
			ConfirmTime: ts(parseAvataTime(rp.PurchaseData.ConfirmedAt)),
		}
		if n := rp.PurchaseData.NFT; n != nil {
			cp.Nft = &insurancev1.CarrierPolicyNft{
				TxId: n.TxID, Source: n.Source, Target: n.Target, Token: n.Token, Owner: n.Asset.Owner, Chain: n.Asset.Chain,
				TokenId: n.Asset.TokenID, ContractId: n.Asset.ContractID, Title: n.Asset.Title, Uri: n.Asset.URI,
			}
		}
		if rp.UUID != "" {
			switch own, err := s.d.Store.FindPolicyByAvataUUID(ctx, rp.UUID); {
			case err == nil:
				cp.PolicyId = own.ID
			case !errors.Is(err, store.ErrNotFound):
				return nil, fmt.Errorf("api: wallet policies: %w", err)
			}
		}
		out.Policies = append(out.Policies, cp)
	}
	return out, nil
}

// ownerWallet is the wallet a purchase was made to, when it is a customer's own wallet (not our
// merchant wallet), lower case; "" otherwise.
func ownerWallet(b buyer) string {
	if b.wallet == "" {
		return ""
	}
	if _, err := ethsign.NormalizeAddress(b.wallet); err != nil {
		return ""
	}
	return strings.ToLower(b.wallet)
}
