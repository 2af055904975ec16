package avata

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Policy types as Avata names them (the callback example shows DIGITAL_ASSET).
const (
	kindNFT          = "NFT"
	kindBooking      = "BOOKING"
	kindDigitalAsset = "DIGITAL_ASSET"
)

// Deterministic pricing (documented in the package comment).
const (
	policyPercentage   = "2.5"
	coveragePercentage = "100"
	durationDays       = 365
	termsURLBase       = "https://sandbox.avata.invalid/terms/"
	policyLogoURL      = "https://sandbox.avata.invalid/logo/policy.png"
	avataLogoURL       = "https://sandbox.avata.invalid/logo/avata.png"
)

// state is everything the sandbox remembers; guarded by Server.mu.
type state struct {
	proposals     map[string]*proposal
	policies      map[string]*policy
	policyOrder   []string
	claims        map[string]*claim // by claim uuid
	claimByPolicy map[string]string
	uploads       map[string]*upload       // by key
	nonces        map[string][]issuedNonce // by lower-case address
	kyc           map[string][]kycIO
	tokenGen      int
	policySeq     int
	claimSeq      int
}

func newState() state {
	return state{
		proposals:     map[string]*proposal{},
		policies:      map[string]*policy{},
		claims:        map[string]*claim{},
		claimByPolicy: map[string]string{},
		uploads:       map[string]*upload{},
		nonces:        map[string][]issuedNonce{},
		kyc:           map[string][]kycIO{},
	}
}

// proposal is a priced offer and the purchase facts a confirm must match.
type proposal struct {
	id          string
	kind        string
	total       string // canonical decimal
	price       string
	chain       string
	token       string
	nftContract string
	marketplace string
	country     string
	checkIn     string
	currency    string
	policyUUID  string // set once confirmed
}

type nftFacts struct {
	txID, source, target, token string
	owner, chain, tokenID       string
	contractID, title, uri      string
}

type policy struct {
	uuid, policyID, kind string
	status               string
	reference            string
	owner                string // EIP-55 wallet, "" when the product has none
	total                string
	chain, token         string
	confirmedAt          time.Time
	start, end, finished time.Time
	nft                  *nftFacts
}

type claim struct {
	uuid, claimID string
	policyUUID    string
	reason, email string
	files         []claimFile
	status        string
	created       time.Time
}

type upload struct {
	policyUUID, wallet string
	name, contentType  string
	size               int
	sha256             string
}

type issuedNonce struct {
	nonce   string
	chainID int64
	expiry  time.Time
}

// newProposal prices and stores a proposal. Caller holds s.mu.
func (st *state) newProposal(p *proposal) {
	p.id = uuid.NewString()
	p.price = price(p.total, policyPercentage)
	st.proposals[p.id] = p
}

func (p *proposal) out() proposalOut {
	return proposalOut{
		TotalValue: json.Number(p.total), Duration: json.Number(fmt.Sprint(durationDays)),
		PolicyPercentage: json.Number(policyPercentage), PolicyTermsURL: termsURLBase + p.kind + ".pdf",
		PolicyPrice: json.Number(p.price), ID: p.id, CoveragePercentage: json.Number(coveragePercentage),
		PolicyLogoURL: policyLogoURL, AvataLogoURL: avataLogoURL,
	}
}

func (p *proposal) digitalAssetOut() digitalAssetProposalOut {
	return digitalAssetProposalOut{
		TotalValue: json.Number(p.total), PolicyPercentage: json.Number(policyPercentage),
		PolicyTermsURL: termsURLBase + p.kind + ".pdf", PolicyPrice: json.Number(p.price), ID: p.id,
		PolicyLogoURL: policyLogoURL, AvataLogoURL: avataLogoURL,
	}
}

// newPolicy creates the PENDING policy for a confirmed proposal. Caller holds s.mu.
func (st *state) newPolicy(p *proposal, reference, owner string, nft *nftFacts, now time.Time) *policy {
	st.policySeq++
	pol := &policy{
		uuid:        uuid.NewString(),
		policyID:    fmt.Sprintf("%010d", 1000000000+st.policySeq), // like the example's "1234567890"
		kind:        p.kind,
		status:      PolicyPending,
		reference:   reference,
		owner:       owner,
		total:       p.total,
		chain:       p.chain,
		token:       p.token,
		confirmedAt: now.UTC(),
		nft:         nft,
	}
	p.policyUUID = pol.uuid
	st.policies[pol.uuid] = pol
	st.policyOrder = append(st.policyOrder, pol.uuid)
	return pol
}

// setStatus moves a policy; accepting starts its term, an end state finishes it.
func (pol *policy) setStatus(status string, now time.Time) {
	pol.status = status
	now = now.UTC()
	if (status == PolicyAccepted || status == PolicyApproved) && pol.start.IsZero() {
		pol.start = now
		pol.end = now.AddDate(0, 0, durationDays)
	}
	switch status {
	case PolicyExpired, PolicyRejected, PolicyError:
		if pol.finished.IsZero() {
			pol.finished = now
		}
	}
}

// out renders the policy as details, wallet policies and claims return it.
func (pol *policy) out(rd Readings) policyOut {
	hash := sha256.Sum256([]byte(pol.uuid + "|" + pol.policyID))
	money := func(s string) docValue { return docValue{text: s, asNumber: rd.PolicyMoney == MoneyNumber} }
	out := policyOut{
		StartDateTime: timeValue(pol.start),
		PolicyID:      pol.policyID,
		PolicyHash:    "0x" + hex.EncodeToString(hash[:]),
		PurchaseData: purchaseDataOut{
			Reference:          pol.reference,
			TotalValue:         money(pol.total),
			Duration:           money(fmt.Sprint(durationDays)),
			ConfirmedAt:        timeValue(pol.confirmedAt),
			CoveragePercentage: money(coveragePercentage),
		},
		PolicyType:  pol.kind,
		EndDateTime: timeValue(pol.end),
		UUID:        pol.uuid,
		Status:      pol.status,
		FinishedAt:  timeValue(pol.finished),
	}
	if n := pol.nft; n != nil {
		out.PurchaseData.NFT = &nftOut{
			TxID: n.txID, Source: n.source, Token: n.token, Target: n.target,
			Asset: assetOut{Owner: n.owner, Chain: n.chain, TokenID: n.tokenID, ContractID: n.contractID, Title: n.title, URI: n.uri},
		}
	}
	return out
}

func (pol *policy) update() policyUpdateOut {
	var u policyUpdateOut
	u.Status, u.UUID, u.Reference = pol.status, pol.uuid, pol.reference
	u.Details.PolicyID, u.Details.PolicyType = pol.policyID, pol.kind
	u.Details.StartDateTime, u.Details.EndDateTime = isoTime(pol.start), isoTime(pol.end)
	return u
}

func (c *claim) update() claimUpdateOut {
	var u claimUpdateOut
	u.Status, u.UUID, u.PolicyUUID = c.status, c.uuid, c.policyUUID
	u.Details.ClaimID = c.claimID
	return u
}

// isoTime renders Avata's "2021-01-01T00:00:00.000Z" form; zero = "".
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// timeValue is a policy-details time: null until it happened (the reference
// shows strings; a time that has not happened yet has no string to show).
func timeValue(t time.Time) docValue {
	if t.IsZero() {
		return docValue{null: true}
	}
	return docValue{text: isoTime(t)}
}
