package avata

import (
	"encoding/json"
	"net/http"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
)

// number wraps a canonical decimal this package produced itself.
func number(d string) json.Number { return json.Number(d) }

func (s *Server) nftProposal(w http.ResponseWriter, r *http.Request) {
	var req avata.NFTProposalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.chain("chain", req.Chain)
	v.contract("nftContractId", req.NFTContractID, true)
	v.country("countryCode", req.CountryCode, false)
	v.contract("marketplaceContractId", req.MarketplaceContractID, false)
	v.token("token", req.Token)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.mu.Lock()
	out := s.st.newProposal(&proposal{
		kind: kindNFT, total: total, chain: req.Chain, token: req.Token,
		nftContract: req.NFTContractID, marketplace: req.MarketplaceContractID, country: req.CountryCode,
	})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) bookingProposal(w http.ResponseWriter, r *http.Request) {
	var req avata.BookingProposalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.chain("chain", req.Chain)
	if req.NFTIDs == nil {
		v.fail("nftIds is required")
	}
	v.country("countryCode", req.CountryCode, false)
	v.date("checkInDate", req.CheckInDate)
	v.token("token", req.Token)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.mu.Lock()
	out := s.st.newProposal(&proposal{
		kind: kindBooking, total: total, chain: req.Chain, token: req.Token,
		country: req.CountryCode, checkIn: req.CheckInDate,
	})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) digitalAssetProposal(w http.ResponseWriter, r *http.Request) {
	var req avata.DigitalAssetProposalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	total := v.amount("totalValue", req.TotalValue)
	v.country("countryCode", req.CountryCode, true)
	if req.CurrencyCode != "eur" {
		v.fail("currencyCode must be eur")
	}
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.mu.Lock()
	out := s.st.newProposal(&proposal{kind: kindDigitalAsset, total: total, country: req.CountryCode, currency: req.CurrencyCode})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// mismatch is a confirm whose purchase differs from its proposal.
type mismatch struct{ field string }

func (m *mismatch) check(field string, ok bool) {
	if !ok && m.field == "" {
		m.field = field
	}
}

// confirm runs the checks common to every product, in the order a client
// can act on: 404 unknown proposal, 404 wrong product, 409 already
// confirmed, 422 mismatch naming the first differing field. On success it
// creates the PENDING policy. compare fills m; build returns owner and NFT data.
func (s *Server) confirm(w http.ResponseWriter, kind, proposalID, reference string,
	compare func(p *proposal, m *mismatch), owner string, nft *avata.NFTData,
) {
	s.mu.Lock()
	p, ok := s.st.proposals[proposalID]
	switch {
	case !ok || p.kind != kind:
		s.mu.Unlock()
		fail(w, notFound("proposal"))
		return
	case p.policyUUID != "":
		s.mu.Unlock()
		fail(w, &apiError{status: http.StatusConflict, code: avata.CodeAlreadyConfirmed, msg: "proposal already confirmed"})
		return
	}
	var m mismatch
	compare(p, &m)
	if m.field != "" {
		s.mu.Unlock()
		fail(w, &apiError{status: http.StatusUnprocessableEntity, code: avata.CodeProposalMismatch,
			msg: m.field + " does not match the proposal"})
		return
	}
	pol := s.st.newPolicy(p, reference, owner, nft, s.cfg.Clock())
	uuid := pol.uuid
	s.mu.Unlock()
	s.schedulePolicyAccept(uuid)
	writeJSON(w, http.StatusOK, avata.Confirmation{ID: uuid, Message: "Policy created"})
}

func (s *Server) nftConfirm(w http.ResponseWriter, r *http.Request) {
	var req avata.NFTConfirmRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	pu := req.Purchase
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	v.chain("purchase.chain", pu.Chain)
	v.token("purchase.token", pu.Token)
	v.contract("purchase.nftContractId", pu.NFTContractID, true)
	v.contract("purchase.marketplaceContractId", pu.MarketplaceContractID, false)
	v.country("purchase.countryCode", pu.CountryCode, false)
	v.customer(req.Customer)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	owner := ""
	if a, err := ethsign.NormalizeAddress(pu.Target); err == nil {
		owner = a
	}
	nft := &avata.NFTData{
		TxID: pu.TxID, Source: pu.Source, Target: pu.Target, Token: pu.Token,
		Asset: avata.NFTAsset{Owner: owner, Chain: pu.Chain, TokenID: pu.NFTTokenID, ContractID: pu.NFTContractID},
	}
	s.confirm(w, kindNFT, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.chain", pu.Chain == p.chain)
		m.check("purchase.token", pu.Token == p.token)
		m.check("purchase.nftContractId", equalFoldAddr(pu.NFTContractID, p.nftContract))
		m.check("purchase.marketplaceContractId", p.marketplace == "" || equalFoldAddr(pu.MarketplaceContractID, p.marketplace))
		m.check("purchase.countryCode", p.country == "" || pu.CountryCode == p.country)
	}, owner, nft)
}

func (s *Server) bookingConfirm(w http.ResponseWriter, r *http.Request) {
	var req avata.BookingConfirmRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	pu := req.Purchase
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	v.chain("purchase.chain", pu.Chain)
	v.token("purchase.token", pu.Token)
	v.nftIDs("purchase.nftIds", pu.NFTIDs)
	if pu.CheckInDate != "" {
		v.date("purchase.checkInDate", pu.CheckInDate)
	}
	if pu.WalletAddress != "" {
		v.contract("purchase.walletAddress", pu.WalletAddress, true)
	}
	v.customer(req.Customer)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	owner := ""
	if a, err := ethsign.NormalizeAddress(pu.WalletAddress); err == nil {
		owner = a
	}
	s.confirm(w, kindBooking, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.chain", pu.Chain == p.chain)
		m.check("purchase.token", pu.Token == p.token)
		m.check("purchase.checkInDate", pu.CheckInDate == "" || pu.CheckInDate == p.checkIn)
	}, owner, nil)
}

func (s *Server) digitalAssetConfirm(w http.ResponseWriter, r *http.Request) {
	var req avata.DigitalAssetConfirmRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	pu := req.Purchase
	v.required("proposal.id", req.Proposal.ID)
	v.amount("purchase.totalValue", pu.TotalValue)
	if pu.CurrencyCode != "eur" {
		v.fail("purchase.currencyCode must be eur")
	}
	v.required("customer.firstName", req.Customer.FirstName)
	v.required("customer.lastName", req.Customer.LastName)
	v.email("customer.email", req.Customer.Email, true)
	v.country("customer.countryCode", req.Customer.CountryCode, false)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.confirm(w, kindDigitalAsset, req.Proposal.ID, pu.Reference, func(p *proposal, m *mismatch) {
		m.check("purchase.totalValue", sameAmount(pu.TotalValue, p.total))
		m.check("purchase.currencyCode", pu.CurrencyCode == p.currency)
	}, "", nil)
}

func equalFoldAddr(a, b string) bool {
	na, err1 := ethsign.NormalizeAddress(a)
	nb, err2 := ethsign.NormalizeAddress(b)
	return err1 == nil && err2 == nil && na == nb
}

func (s *Server) activatePolicy(w http.ResponseWriter, r *http.Request) {
	var req avata.ActivatePolicyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	v.required("policyUuid", req.PolicyUUID)
	v.chain("chain", req.Chain)
	if req.NFTIDs == nil {
		v.fail("nftIds is required")
	}
	v.nftIDs("nftIds", req.NFTIDs)
	v.contract("walletAddress", req.WalletAddress, true)
	v.token("token", req.Token)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.mu.Lock()
	pol, ok := s.st.policies[req.PolicyUUID]
	var apiErr *apiError
	switch {
	case !ok:
		apiErr = notFound("policy")
	case pol.chain != "" && pol.chain != req.Chain:
		apiErr = &apiError{status: http.StatusUnprocessableEntity, code: avata.CodeProposalMismatch, msg: "chain does not match the policy"}
	case pol.token != "" && pol.token != req.Token:
		apiErr = &apiError{status: http.StatusUnprocessableEntity, code: avata.CodeProposalMismatch, msg: "token does not match the policy"}
	case pol.status != avata.PolicyPending && pol.status != avata.PolicyAccepted && pol.status != avata.PolicyApproved:
		apiErr = &apiError{status: http.StatusConflict, code: avata.CodeInvalidState, msg: "policy is " + string(pol.status)}
	}
	if apiErr != nil {
		s.mu.Unlock()
		fail(w, apiErr)
		return
	}
	owner, _ := ethsign.NormalizeAddress(req.WalletAddress)
	pol.owner = owner
	pol.activated = true
	var cb []byte
	if pol.status == avata.PolicyPending {
		pol.setStatus(avata.PolicyAccepted, s.cfg.Clock())
		cb, _ = avata.NewPolicyUpdateCallback(pol.update())
	}
	uuid := pol.uuid
	s.mu.Unlock()
	s.deliver(avata.EventPolicyUpdate, cb)
	writeJSON(w, http.StatusOK, avata.ActivatePolicyResponse{ID: uuid, Message: "Policy activated"})
}

// uuidRequest is {"uuid": "..."} (request status and details).
type uuidRequest struct {
	UUID string `json:"uuid"`
}

func (s *Server) lookupPolicy(w http.ResponseWriter, r *http.Request) (avata.Policy, bool) {
	var req uuidRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return avata.Policy{}, false
	}
	if req.UUID == "" {
		fail(w, badRequest("uuid is required"))
		return avata.Policy{}, false
	}
	s.mu.Lock()
	pol, ok := s.st.policies[req.UUID]
	var out avata.Policy
	if ok {
		out = pol.wire()
	}
	s.mu.Unlock()
	if !ok {
		fail(w, notFound("policy"))
	}
	return out, ok
}

func (s *Server) policyRequestStatus(w http.ResponseWriter, r *http.Request) {
	pol, ok := s.lookupPolicy(w, r)
	if !ok {
		return
	}
	var out avata.PolicyRequestStatus
	out.EventType = avata.EventPolicyUpdate
	out.Body.Reference = pol.PurchaseData.Reference
	out.Body.UUID = pol.UUID
	out.Body.Status = pol.Status
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) policyDetails(w http.ResponseWriter, r *http.Request) {
	if pol, ok := s.lookupPolicy(w, r); ok {
		writeJSON(w, http.StatusOK, avata.PolicyEnvelope{Policy: pol})
	}
}

func (s *Server) kyc(w http.ResponseWriter, r *http.Request) {
	var req avata.KYCRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	v.required("policyUuid", req.PolicyUUID)
	v.required("provider", req.Provider)
	if len(req.Payload) > 0 && string(req.Payload) != "null" && req.Payload[0] != '{' {
		v.fail("payload must be an object")
	}
	if v.err != nil {
		fail(w, v.err)
		return
	}
	s.mu.Lock()
	_, ok := s.st.policies[req.PolicyUUID]
	if ok {
		s.st.kyc[req.PolicyUUID] = append(s.st.kyc[req.PolicyUUID], req)
	}
	s.mu.Unlock()
	if !ok {
		fail(w, notFound("policy"))
		return
	}
	writeJSON(w, http.StatusOK, req)
}
