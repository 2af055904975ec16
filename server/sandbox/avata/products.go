package avata

import (
	"encoding/json"
	"net/http"

	"github.com/covergate/covergate/server/ethsign"
)

func (s *Server) nftProposal(w http.ResponseWriter, r *http.Request, c *call) {
	var req nftProposalIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.enum("chain", req.Chain, chains, true)
	v.contract("nftContractId", req.NFTContractID, true)
	v.enum("countryCode", req.CountryCode, countries, false)
	v.contract("marketplaceContractId", req.MarketplaceContractID, false)
	v.enum("token", req.Token, tokens, true)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	p := &proposal{kind: kindNFT, total: total, chain: req.Chain, token: req.Token,
		nftContract: req.NFTContractID, marketplace: req.MarketplaceContractID, country: req.CountryCode}
	s.mu.Lock()
	s.st.newProposal(p)
	s.mu.Unlock()
	s.ok(w, r, c, p.out())
}

func (s *Server) bookingProposal(w http.ResponseWriter, r *http.Request, c *call) {
	var req bookingProposalIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.enum("chain", req.Chain, chains, true)
	if req.NFTIDs == nil {
		v.fail("nftIds is required")
	}
	v.enum("countryCode", req.CountryCode, countries, false)
	v.date("checkInDate", req.CheckInDate)
	v.enum("token", req.Token, tokens, true)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	p := &proposal{kind: kindBooking, total: total, chain: req.Chain, token: req.Token, country: req.CountryCode, checkIn: req.CheckInDate}
	s.mu.Lock()
	s.st.newProposal(p)
	s.mu.Unlock()
	s.ok(w, r, c, p.out())
}

func (s *Server) digitalAssetProposal(w http.ResponseWriter, r *http.Request, c *call) {
	var req digitalAssetProposalIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.enum("countryCode", req.CountryCode, countries, true)
	v.enum("currencyCode", req.CurrencyCode, []string{"eur"}, true)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	p := &proposal{kind: kindDigitalAsset, total: total, country: req.CountryCode, currency: req.CurrencyCode}
	s.mu.Lock()
	s.st.newProposal(p)
	s.mu.Unlock()
	s.ok(w, r, c, p.digitalAssetOut())
}

// mismatch is a confirm whose purchase differs from its proposal ("Data
// needs to match proposal").
type mismatch struct{ field string }

func (m *mismatch) check(field string, ok bool) {
	if !ok && m.field == "" {
		m.field = field
	}
}

// confirm runs the checks common to every product, in the order a client
// can act on: 404 unknown proposal (or one of another product), 409 already
// confirmed, 422 mismatch naming the first differing field. On success it
// creates the PENDING policy and schedules its acceptance.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request, c *call, kind, proposalID, reference string,
	compare func(p *proposal, m *mismatch), owner string, nft *nftFacts,
) {
	s.mu.Lock()
	p, ok := s.st.proposals[proposalID]
	switch {
	case !ok || p.kind != kind:
		s.mu.Unlock()
		s.fail(w, c, notFound("proposal"))
		return
	case p.policyUUID != "":
		s.mu.Unlock()
		s.fail(w, c, &apiError{status: http.StatusConflict, code: codeAlreadyConfirmed, msg: "proposal already confirmed"})
		return
	}
	var m mismatch
	compare(p, &m)
	if m.field != "" {
		s.mu.Unlock()
		s.fail(w, c, &apiError{status: http.StatusUnprocessableEntity, code: codeProposalMismatch, msg: m.field + " does not match the proposal"})
		return
	}
	pol := s.st.newPolicy(p, reference, owner, nft, s.cfg.Clock())
	id := pol.uuid
	s.mu.Unlock()
	s.schedulePolicyAccept(id)
	s.ok(w, r, c, confirmationOut{ID: id, Message: "Policy created"})
}

func (v *validator) customer(cu *customerIn, required bool) {
	if cu == nil {
		if required {
			v.fail("customer is required")
		}
		return
	}
	v.email("customer.email", cu.Email, required)
	if required {
		v.required("customer.firstName", cu.FirstName)
		v.required("customer.lastName", cu.LastName)
		v.enum("customer.countryCode", cu.CountryCode, countries, false)
	}
}

func (s *Server) nftConfirm(w http.ResponseWriter, r *http.Request, c *call) {
	var req nftConfirmIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	if req.Proposal == nil || req.Purchase == nil {
		s.fail(w, c, badRequest("proposal and purchase are required"))
		return
	}
	pu := req.Purchase
	var v validator
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	v.enum("purchase.chain", pu.Chain, chains, true)
	v.enum("purchase.token", pu.Token, tokens, true)
	v.contract("purchase.nftContractId", pu.NFTContractID, true)
	v.contract("purchase.marketplaceContractId", pu.MarketplaceContractID, false)
	v.enum("purchase.countryCode", pu.CountryCode, countries, false)
	if len(pu.Metadata) > 0 && pu.Metadata[0] != '{' && string(pu.Metadata) != "null" {
		v.fail("purchase.metadata must be an object")
	}
	v.customer(req.Customer, false)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	owner := ""
	if a, err := ethsign.NormalizeAddress(pu.Target); err == nil {
		owner = a // the buyer's wallet receives the NFT
	}
	title, uri := nftMetadata(pu.Metadata, pu.NFTTokenID)
	nft := &nftFacts{
		txID: pu.TxID, source: pu.Source, target: pu.Target, token: pu.Token,
		owner: owner, chain: pu.Chain, tokenID: pu.NFTTokenID, contractID: pu.NFTContractID, title: title, uri: uri,
	}
	s.confirm(w, r, c, kindNFT, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.chain", pu.Chain == p.chain)
		m.check("purchase.token", pu.Token == p.token)
		m.check("purchase.nftContractId", sameAddress(pu.NFTContractID, p.nftContract))
		m.check("purchase.marketplaceContractId", p.marketplace == "" || sameAddress(pu.MarketplaceContractID, p.marketplace))
		m.check("purchase.countryCode", p.country == "" || pu.CountryCode == p.country)
	}, owner, nft)
}

// nftMetadata picks the asset title and uri from the purchase metadata (an
// open object in the reference) by the usual NFT metadata names.
func nftMetadata(raw json.RawMessage, tokenID string) (title, uri string) {
	var md map[string]any
	_ = json.Unmarshal(raw, &md) // absent or not an object: defaults below
	pick := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := md[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	title = pick("title", "name")
	if title == "" {
		title = "NFT #" + tokenID
	}
	return title, pick("uri", "tokenUri", "image")
}

func (s *Server) bookingConfirm(w http.ResponseWriter, r *http.Request, c *call) {
	var req bookingConfirmIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	if req.Proposal == nil || req.Purchase == nil {
		s.fail(w, c, badRequest("proposal and purchase are required"))
		return
	}
	pu := req.Purchase
	var v validator
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	v.enum("purchase.chain", pu.Chain, chains, true)
	v.enum("purchase.token", pu.Token, tokens, true)
	v.nftIDs("purchase.nftIds", pu.NFTIDs)
	if pu.CheckInDate != "" {
		v.date("purchase.checkInDate", pu.CheckInDate)
	}
	v.contract("purchase.walletAddress", pu.WalletAddress, false)
	v.contract("purchase.bookingWalletAddress", pu.BookingWalletAddress, false)
	v.customer(req.Customer, false)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	owner := ""
	if a, err := ethsign.NormalizeAddress(pu.WalletAddress); err == nil {
		owner = a
	}
	s.confirm(w, r, c, kindBooking, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.chain", pu.Chain == p.chain)
		m.check("purchase.token", pu.Token == p.token)
		m.check("purchase.checkInDate", pu.CheckInDate == "" || pu.CheckInDate == p.checkIn)
	}, owner, nil)
}

func (s *Server) digitalAssetConfirm(w http.ResponseWriter, r *http.Request, c *call) {
	var req digitalAssetConfirmIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	if req.Proposal == nil || req.Purchase == nil {
		s.fail(w, c, badRequest("proposal, purchase and customer are required"))
		return
	}
	pu := req.Purchase
	var v validator
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	v.enum("purchase.currencyCode", pu.CurrencyCode, []string{"eur"}, true)
	v.customer(req.Customer, true) // "required object" for this product only
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	s.confirm(w, r, c, kindDigitalAsset, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.currencyCode", pu.CurrencyCode == p.currency)
	}, "", nil)
}

func sameAddress(a, b string) bool {
	na, err1 := ethsign.NormalizeAddress(a)
	nb, err2 := ethsign.NormalizeAddress(b)
	return err1 == nil && err2 == nil && na == nb
}

// activatePolicy activates a policy and cancels the booking: the wallet
// becomes the policy's owner (it receives the payout) and a PENDING policy is
// accepted at once.
func (s *Server) activatePolicy(w http.ResponseWriter, r *http.Request, c *call) {
	var req activateIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	v.required("policyUuid", req.PolicyUUID)
	v.enum("chain", req.Chain, chains, true)
	if req.NFTIDs == nil {
		v.fail("nftIds is required")
	}
	v.nftIDs("nftIds", req.NFTIDs)
	v.contract("walletAddress", req.WalletAddress, true)
	v.enum("token", req.Token, tokens, true)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	s.mu.Lock()
	pol, ok := s.st.policies[req.PolicyUUID]
	var apiErr *apiError
	switch {
	case !ok:
		apiErr = notFound("policy")
	case pol.chain != "" && pol.chain != req.Chain:
		apiErr = &apiError{status: http.StatusUnprocessableEntity, code: codeProposalMismatch, msg: "chain does not match the policy"}
	case pol.token != "" && pol.token != req.Token:
		apiErr = &apiError{status: http.StatusUnprocessableEntity, code: codeProposalMismatch, msg: "token does not match the policy"}
	case pol.status != PolicyPending && pol.status != PolicyAccepted && pol.status != PolicyApproved:
		apiErr = &apiError{status: http.StatusConflict, code: codeInvalidState, msg: "policy is " + pol.status}
	}
	if apiErr != nil {
		s.mu.Unlock()
		s.fail(w, c, apiErr)
		return
	}
	pol.owner, _ = ethsign.NormalizeAddress(req.WalletAddress)
	var cb *callbackOut
	if pol.status == PolicyPending {
		pol.setStatus(PolicyAccepted, s.cfg.Clock())
		cb = &callbackOut{EventType: EventPolicyUpdate, Body: pol.update()}
	}
	out := pol.out(c.rd)
	s.mu.Unlock()
	s.deliver(cb)
	switch c.rd.ActivateAnswer {
	case ActivateNoContent:
		w.WriteHeader(http.StatusNoContent)
	case ActivatePolicy:
		s.ok(w, r, c, policyEnvelope{Policy: out})
	default:
		s.ok(w, r, c, confirmationOut{ID: out.UUID, Message: "Policy activated"})
	}
}

// lookupPolicy reads {"uuid"} and renders the policy.
func (s *Server) lookupPolicy(w http.ResponseWriter, r *http.Request, c *call) (policyOut, bool) {
	var req uuidIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return policyOut{}, false
	}
	if req.UUID == "" {
		s.fail(w, c, badRequest("uuid is required"))
		return policyOut{}, false
	}
	s.mu.Lock()
	pol, ok := s.st.policies[req.UUID]
	var out policyOut
	if ok {
		out = pol.out(c.rd)
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, c, notFound("policy"))
	}
	return out, ok
}

// policyRequestStatus answers {eventType, body{reference, uuid, status}}:
// the shape of a policy-update callback without its details.
func (s *Server) policyRequestStatus(w http.ResponseWriter, r *http.Request, c *call) {
	pol, ok := s.lookupPolicy(w, r, c)
	if !ok {
		return
	}
	var out requestStatusOut
	out.EventType = EventPolicyUpdate
	out.Body.Reference, out.Body.UUID, out.Body.Status = pol.PurchaseData.Reference, pol.UUID, pol.Status
	s.ok(w, r, c, out)
}

func (s *Server) policyDetails(w http.ResponseWriter, r *http.Request, c *call) {
	if pol, ok := s.lookupPolicy(w, r, c); ok {
		s.ok(w, r, c, policyEnvelope{Policy: pol})
	}
}

// kyc records the KYC information and echoes it, as documented.
func (s *Server) kyc(w http.ResponseWriter, r *http.Request, c *call) {
	var req kycIO
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	v.required("policyUuid", req.PolicyUUID)
	v.required("provider", req.Provider)
	if len(req.Payload) > 0 && string(req.Payload) != "null" && req.Payload[0] != '{' {
		v.fail("payload must be an object")
	}
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	s.mu.Lock()
	_, ok := s.st.policies[req.PolicyUUID]
	if ok {
		s.st.kyc[req.PolicyUUID] = append(s.st.kyc[req.PolicyUUID], req)
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, c, notFound("policy"))
		return
	}
	if len(req.Payload) == 0 {
		req.Payload = json.RawMessage("{}") // the echo always shows "payload"
	}
	s.ok(w, r, c, req)
}
