package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle/avatarules"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// PolicyService sells policies from quotes (Avata) and manages every policy whichever partner
// owns it.
type PolicyService struct {
	insurancev1.UnimplementedPolicyServiceServer
	d Deps
}

func newPolicyService(d Deps) insurancev1.PolicyServiceServer { return &PolicyService{d: d} }

// Product names shown for policies bought from quotes.
var productNames = map[domain.QuoteKind]string{
	domain.KindNFT:          "Avata NFT cover",
	domain.KindBooking:      "Avata booking cover",
	domain.KindDigitalAsset: "Avata digital-asset cover",
}

// CreatePolicy buys the cover of a quote: the purchase is checked against the quote first, then
// confirmed with Avata through partnerops (the intent is recorded first, the call runs detached
// from the caller's deadline, the policy is recorded PENDING with the answer, and a lost answer
// is resolved by the reconciler). When Avata refuses, nothing but the refused intent is written.
func (s *PolicyService) CreatePolicy(ctx context.Context, req *insurancev1.CreatePolicyRequest) (*insurancev1.CreatePolicyResponse, error) {
	now := s.d.now()
	q, err := s.d.Store.GetQuote(ctx, req.GetQuoteId())
	if err != nil {
		return nil, storeError(err, "quote")
	}
	if !now.Before(q.ExpireTime) {
		return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_QUOTE_EXPIRED,
			"quote "+q.ID+" expired at "+q.ExpireTime.UTC().Format(time.RFC3339)+": request a new quote",
			"quote_id", q.ID)
	}
	total, err := MoneyFromProto(req.GetTotalValue())
	if err != nil {
		return nil, invalidField("total_value.amount", "money.decimal", err.Error())
	}
	if err := domain.MatchPurchase(q, domain.PurchaseTerms{Kind: purchaseKind(req), TotalValue: total, CustomerID: req.GetCustomerId()}); err != nil {
		return nil, mismatchError(err)
	}
	terms, err := domain.DecodeQuoteTerms(q.Request)
	if err != nil {
		return nil, fmt.Errorf("api: create policy: quote %s: %w", q.ID, err)
	}
	buyer, err := s.buyer(ctx, req, q)
	if err != nil {
		return nil, err
	}
	policyID, err := domain.NewID()
	if err != nil {
		return nil, err
	}
	reference := req.GetReference()
	if reference == "" {
		reference = policyID
	}
	reqBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("api: create policy: hash request: %w", err)
	}
	in := partnerops.Purchase{
		QuoteID: q.ID, RequestHash: partnerops.RequestHash(reqBytes),
		Policy: domain.Policy{
			ID: policyID, CustomerID: buyer.customer.ID, QuoteID: q.ID, Partner: domain.PartnerAvata, Kind: q.Kind,
			ProductName: productNames[q.Kind], Status: domain.PolicyPending, Premium: q.Premium,
			Billing: domain.Billing{PriceType: "ONE_TIME"}, AvataReference: reference,
			// A policy bought to the customer's own wallet is claimed with the customer's wallet
			// sign-in; one bought to our merchant wallet with ours.
			Avata: domain.AvataPolicyData{OwnerWallet: ownerWallet(buyer)},
		},
		Wallet: buyer.wallet, Profile: buyer.profile, Source: apiSource(ctx, domain.PartnerAvata),
	}
	if err := s.confirmRequest(req, q, terms, buyer, reference, &in); err != nil {
		return nil, err
	}
	p, err := s.d.Ops.Buy(ctx, in)
	if err != nil {
		return nil, err // Avata's error as is: 503 → UNAVAILABLE, 422 mismatch → its reason
	}
	return &insurancev1.CreatePolicyResponse{Policy: PolicyToProto(p)}, nil
}

func purchaseKind(req *insurancev1.CreatePolicyRequest) domain.QuoteKind {
	switch req.GetPurchase().(type) {
	case *insurancev1.CreatePolicyRequest_Nft:
		return domain.KindNFT
	case *insurancev1.CreatePolicyRequest_Booking:
		return domain.KindBooking
	case *insurancev1.CreatePolicyRequest_DigitalAsset:
		return domain.KindDigitalAsset
	}
	return ""
}

// mismatchError turns a *domain.MismatchError into FAILED_PRECONDITION / QUOTE_MISMATCH naming
// the field.
func mismatchError(err error) error {
	var m *domain.MismatchError
	if !errors.As(err, &m) {
		return invalidField("total_value.amount", "money.decimal", err.Error())
	}
	if m.Field == "purchase" {
		return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH,
			fmt.Sprintf("the quote is for %s cover but the purchase is %s", kindWords(m.Want), kindWords(m.Got)),
			"field", "purchase")
	}
	return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH, m.Error(), "field", m.Field)
}

func kindWords(k string) string {
	if k == "" {
		return "missing"
	}
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

// buyer is who the policy is for: an existing customer, and/or the contact details and wallet
// passed to the carrier.
type buyer struct {
	customer domain.Customer // zero when a customer is to be created from profile/wallet
	profile  *domain.Profile // nil when no holder details are known
	wallet   string          // lower-case buyer wallet (NFT target, booking wallet); "" for ours
}

func (s *PolicyService) buyer(ctx context.Context, req *insurancev1.CreatePolicyRequest, q domain.Quote) (buyer, error) {
	var b buyer
	id := req.GetCustomerId()
	if id == "" {
		id = q.CustomerID
	}
	if id != "" {
		c, err := activeCustomer(ctx, s.d.Store, id)
		if err != nil {
			return b, err
		}
		b.customer = c
		if c.Profile != (domain.Profile{}) {
			p := c.Profile
			b.profile = &p
		}
	}
	if req.GetHolder() != nil {
		p := ProfileFromProto(req.GetHolder())
		b.profile = &p
	}
	switch pu := req.GetPurchase().(type) {
	case *insurancev1.CreatePolicyRequest_Nft:
		b.wallet = s.customerWallet(pu.Nft.GetTargetAddress())
	case *insurancev1.CreatePolicyRequest_Booking:
		b.wallet = s.customerWallet(pu.Booking.GetWalletAddress())
	case *insurancev1.CreatePolicyRequest_DigitalAsset:
		// Avata requires the customer's name and e-mail for digital-asset cover.
		if b.profile == nil || b.profile.FirstName == "" || b.profile.LastName == "" || b.profile.Email == "" {
			return b, invalidField("holder", "holder.required",
				"digital-asset cover needs the holder's first_name, last_name and email (in holder, or on the customer)")
		}
	}
	return b, nil
}

// customerWallet returns the lower-case wallet that identifies the buyer, or "" for our own
// merchant wallet: custodial purchases all go to it, and keying a customer on it would merge
// every such buyer into one person.
func (s *PolicyService) customerWallet(addr string) string {
	addr = strings.ToLower(addr)
	if w := s.d.Avata.MerchantWallet(); w != nil && strings.EqualFold(w.Address(), addr) {
		return ""
	}
	return addr
}

// avataCustomer is the contact block sent to Avata, or nil when nothing is known. The structured
// address (street, house number, suffix) goes as is; a profile with only address lines sends them
// as the street. The country code is ISO 3166-1 alpha-2 in lower case, as Avata writes its codes:
// any country for NFT and booking cover (the field is a free string there); for digital-asset
// cover only the countries Avata lists (global, nl, be, de, gb) — another one is left out rather
// than replaced by a wrong one.
func avataCustomer(p *domain.Profile, kind domain.QuoteKind) *avata.Customer {
	if p == nil || *p == (domain.Profile{}) {
		return nil
	}
	c := &avata.Customer{
		FirstName: p.FirstName, LastName: p.LastName, Street: p.Street, HouseNumber: p.HouseNumber,
		HouseNumberSuffix: p.HouseNumberSuffix, PostalCode: p.PostalCode, City: p.City, State: p.Region,
		PhoneNumber: p.Phone, DateOfBirth: p.DateOfBirth, Email: p.Email,
	}
	if c.Street == "" && c.HouseNumber == "" {
		c.Street = strings.TrimSpace(p.Address1 + " " + p.Address2)
	}
	cc := strings.ToLower(p.CountryCode)
	if cc == "" && len(p.Country) == 2 {
		cc = strings.ToLower(p.Country)
	}
	switch {
	case kind == domain.KindDigitalAsset && avata.IsCountryCode(cc):
		c.CountryCode = cc
	case kind != domain.KindDigitalAsset && isAlpha2(cc):
		c.CountryCode = cc
	}
	return c
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z'
}

func metadataJSON(m *structpb.Struct) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("api: encode purchase metadata: %w", err)
	}
	return b, nil
}

// confirmRequest builds the Avata confirm request of the purchase into in. The product data
// (chain, token, contract, ids, dates) comes from the quote, so it matches the proposal by
// construction.
func (s *PolicyService) confirmRequest(req *insurancev1.CreatePolicyRequest, q domain.Quote, t domain.QuoteTerms, b buyer, reference string, in *partnerops.Purchase) error {
	total, err := avata.DecimalToNumber(q.TotalValue.Amount)
	if err != nil {
		return fmt.Errorf("api: quote %s total: %w", q.ID, err)
	}
	ref := avata.ProposalRef{ID: q.PartnerProposalID}
	switch pu := req.GetPurchase().(type) {
	case *insurancev1.CreatePolicyRequest_Nft:
		meta, err := metadataJSON(pu.Nft.GetMetadata())
		if err != nil {
			return err
		}
		in.NFT = &avata.NFTConfirmRequest{Proposal: ref, Customer: avataCustomer(b.profile, domain.KindNFT), Purchase: avata.NFTPurchase{
			TotalValue: total, Chain: t.Chain, Token: t.Token, NFTContractID: t.NFTContract, NFTTokenID: pu.Nft.GetNftTokenId(),
			MarketplaceContractID: t.Marketplace, CountryCode: t.Country, CurrentBlock: pu.Nft.GetCurrentBlock(),
			TxID: pu.Nft.GetTxId(), Source: pu.Nft.GetSourceAddress(), Target: pu.Nft.GetTargetAddress(),
			Reference: reference, Metadata: meta,
		}}
	case *insurancev1.CreatePolicyRequest_Booking:
		meta, err := metadataJSON(pu.Booking.GetMetadata())
		if err != nil {
			return err
		}
		in.Booking = &avata.BookingConfirmRequest{Proposal: ref, Customer: avataCustomer(b.profile, domain.KindBooking), Purchase: avata.BookingPurchase{
			Reference: reference, TotalValue: total, Chain: t.Chain, Token: t.Token, NFTIDs: t.NFTIDs,
			BookingWalletAddress: pu.Booking.GetBookingWalletAddress(), WalletAddress: pu.Booking.GetWalletAddress(),
			BookingDateTime: pu.Booking.GetBookingTime().AsTime().UTC().Format(time.RFC3339), CheckInDate: t.CheckInDate,
			TxID: pu.Booking.GetTxId(), Metadata: meta,
		}}
	case *insurancev1.CreatePolicyRequest_DigitalAsset:
		in.DigitalAsset = &avata.DigitalAssetConfirmRequest{Proposal: ref, Customer: *avataCustomer(b.profile, domain.KindDigitalAsset), Purchase: avata.DigitalAssetPurchase{
			Reference: reference, TotalValue: total, InvoiceID: pu.DigitalAsset.GetInvoiceId(), CurrencyCode: "eur",
		}}
	default:
		return invalidField("purchase", "required", "one of nft, booking or digital_asset is required")
	}
	return nil
}

// GetPolicy returns one policy.
func (s *PolicyService) GetPolicy(ctx context.Context, req *insurancev1.GetPolicyRequest) (*insurancev1.GetPolicyResponse, error) {
	p, err := s.d.Store.GetPolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, storeError(err, "policy")
	}
	return &insurancev1.GetPolicyResponse{Policy: PolicyToProto(p)}, nil
}

// ListPolicies pages policies in id order. Ids are UUIDv7 (time-ordered) and the page token is
// the last id seen, so a policy created while a client pages lands after every page already
// issued and never shifts them.
func (s *PolicyService) ListPolicies(ctx context.Context, req *insurancev1.ListPoliciesRequest) (*insurancev1.ListPoliciesResponse, error) {
	f := store.PolicyFilter{
		CustomerID: req.GetCustomerId(), Partner: PartnerFromProto(req.GetPartner()), Status: PolicyStatusFromProto(req.GetStatus()),
	}
	fh := filterHash("policies", f.CustomerID, string(f.Partner), string(f.Status))
	after, err := decodePageToken(req.GetPageToken(), fh)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Store.ListPolicies(ctx, f, pageRequest(req.GetPageSize(), after))
	if err != nil {
		return nil, fmt.Errorf("api: list policies: %w", err)
	}
	out := &insurancev1.ListPoliciesResponse{NextPageToken: encodePageToken(page.Next, fh)}
	for _, p := range page.Items {
		out.Policies = append(out.Policies, PolicyToProto(p))
	}
	return out, nil
}

// CancelPolicy cancels a policy. Neither partner offers a cancel call (Etvas sells and cancels
// in its portal; Avata's only related call activates a booking policy), so the cancellation is
// recorded on our side and reported in the event log (policy.canceled), where the partner
// integrations and operators pick it up.
func (s *PolicyService) CancelPolicy(ctx context.Context, req *insurancev1.CancelPolicyRequest) (*insurancev1.CancelPolicyResponse, error) {
	reason := req.GetReason()
	if reason == "" {
		reason = "canceled through the API"
	}
	// The change comes from us, not from a partner: the event names no partner.
	p, err := s.transition(ctx, req.GetPolicyId(), req.GetEtag(), "", func(p domain.Policy) (domain.PolicyStatus, string, error) {
		return domain.PolicyCanceled, reason, nil
	})
	if err != nil {
		return nil, err
	}
	return &insurancev1.CancelPolicyResponse{Policy: PolicyToProto(p)}, nil
}

// transition applies a status change decided by decide from the stored policy, in one
// transaction, checking the etag when one is sent; from is the partner the change comes from
// ("" for our own decisions). Without an etag a concurrent write (a
// partner callback) is retried on the fresh policy.
func (s *PolicyService) transition(ctx context.Context, id, etag string, from domain.Partner, decide func(domain.Policy) (domain.PolicyStatus, string, error)) (domain.Policy, error) {
	var out domain.Policy
	for attempt := 0; ; attempt++ {
		err := s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			p, err := tx.GetPolicy(ctx, id)
			if err != nil {
				return err
			}
			if etag != "" && etag != Etag(p.Version) {
				return etagMismatch("policy", etag, p.Version)
			}
			to, reason, err := decide(p)
			if err != nil {
				return err
			}
			if to == "" || to == p.Status {
				out = p
				return nil
			}
			out, _, err = s.d.Lifecycle.TransitionPolicy(ctx, tx, p, to, s.d.now(), reason, apiSource(ctx, from))
			return err
		})
		if errors.Is(err, store.ErrConflict) && etag == "" && attempt < 3 {
			continue
		}
		if err != nil {
			return domain.Policy{}, storeError(err, "policy")
		}
		return out, nil
	}
}

func etagMismatch(resource, sent string, version int64) error {
	return apierror.New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH,
		fmt.Sprintf("%s etag %q is stale (current %q): read it again and retry", resource, sent, Etag(version)),
		"resource", resource, "etag", Etag(version))
}

// ActivatePolicy activates a booking policy with Avata (which cancels the booking it covers) and
// records the policy ACTIVE.
func (s *PolicyService) ActivatePolicy(ctx context.Context, req *insurancev1.ActivatePolicyRequest) (*insurancev1.ActivatePolicyResponse, error) {
	p, err := s.d.Store.GetPolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, storeError(err, "policy")
	}
	if req.GetEtag() != "" && req.GetEtag() != Etag(p.Version) {
		return nil, etagMismatch("policy", req.GetEtag(), p.Version)
	}
	if p.Partner != domain.PartnerAvata || p.Kind != domain.KindBooking || p.AvataPolicyUUID == "" {
		return nil, invalidState("only Avata booking policies can be activated; this one is "+kindWords(string(p.Kind)), "resource", "policy")
	}
	if p.Status != domain.PolicyPending && p.Status != domain.PolicyActive {
		return nil, invalidState("policy is "+string(p.Status)+"; only PENDING or ACTIVE booking policies can be activated", "resource", "policy")
	}
	p, err = s.d.Ops.Activate(ctx, partnerops.Activation{
		Policy: p, Source: apiSource(ctx, domain.PartnerAvata),
		Request: avata.ActivatePolicyRequest{
			PolicyUUID: p.AvataPolicyUUID, Chain: chainNames[req.GetChain()], NFTIDs: req.GetNftIds(),
			WalletAddress: req.GetWalletAddress(), Token: tokenName(req.GetToken()),
		},
	})
	if err != nil {
		return nil, storeError(err, "policy")
	}
	// Activation starts the cover: record its dates and ids as Avata now reports them.
	p = s.recordAvataDetails(ctx, p)
	return &insurancev1.ActivatePolicyResponse{Policy: PolicyToProto(p)}, nil
}

// RefreshPolicy fetches the policy from Avata and applies its status, for when a callback was
// missed. Etvas offers no policy read beyond the purchase status, which its webhooks carry.
func (s *PolicyService) RefreshPolicy(ctx context.Context, req *insurancev1.RefreshPolicyRequest) (*insurancev1.RefreshPolicyResponse, error) {
	p, err := s.d.Store.GetPolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, storeError(err, "policy")
	}
	if p.Partner != domain.PartnerAvata || p.AvataPolicyUUID == "" {
		return nil, invalidState("only Avata policies can be refreshed from the carrier; Etvas reports changes by webhook", "resource", "policy")
	}
	remote, err := s.d.Avata.PolicyDetails(ctx, p.AvataPolicyUUID)
	if err != nil {
		return nil, err
	}
	if !remote.Status.Known() {
		return nil, apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			"the carrier reported an unknown policy status", "partner", avata.PartnerName, "partner_status", string(remote.Status))
	}
	// Avata's status rules (lifecycle/avatarules), as for callbacks; in-flight statuses (CREATED,
	// PENDING, SEND, RETRYING) change no status. What Avata reports about the policy (dates, id,
	// hash, type, finishedAt) is recorded either way.
	to, settled := avatarules.PolicyTarget(string(remote.Status))
	if !settled {
		to = domain.PolicyPending
	}
	before := p.Version
	upd := AvataUpdateFromPolicy(remote)
	for attempt := 0; ; attempt++ {
		err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.GetPolicy(ctx, p.ID)
			if err != nil {
				return err
			}
			target := to
			// A carrier state we cannot move to (PENDING again, or ACCEPTED for a policy
			// canceled on our side) changes no status: the refresh reports the policy as it
			// stands.
			if !domain.CanTransition(cur.Status, target) {
				target = ""
			}
			p, err = ApplyAvataPolicy(ctx, tx, s.d.Lifecycle, cur, upd, target, s.d.now(),
				"refreshed from Avata ("+string(remote.Status)+")", apiSource(ctx, domain.PartnerAvata), s.d.now())
			return err
		})
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue
		}
		break
	}
	if err != nil {
		return nil, storeError(err, "policy")
	}
	return &insurancev1.RefreshPolicyResponse{Policy: PolicyToProto(p), Changed: p.Version != before}, nil
}

// recordAvataDetails fetches the policy from Avata and records what it reports (no status
// change), best effort: the caller's answer does not depend on it, and a later refresh or
// callback records the same data.
func (s *PolicyService) recordAvataDetails(ctx context.Context, p domain.Policy) domain.Policy {
	remote, err := s.d.Avata.PolicyDetails(ctx, p.AvataPolicyUUID)
	if err != nil {
		s.d.logger().WarnContext(ctx, "could not read Avata policy details", "policy_id", p.ID, "error", err)
		return p
	}
	out := p
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetPolicy(ctx, p.ID)
		if err != nil {
			return err
		}
		out, err = ApplyAvataPolicy(ctx, tx, s.d.Lifecycle, cur, AvataUpdateFromPolicy(remote), "", time.Time{}, "", apiSource(ctx, domain.PartnerAvata), s.d.now())
		return err
	})
	if err != nil {
		s.d.logger().WarnContext(ctx, "could not record Avata policy details", "policy_id", p.ID, "error", err)
		return p
	}
	return out
}
