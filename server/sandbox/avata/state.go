package avata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/server/partners/avata"
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
	kyc           map[string][]avata.KYCRequest
	tokenGen      int
	policySeq     int
}

func newState() state {
	return state{
		proposals:     map[string]*proposal{},
		policies:      map[string]*policy{},
		claims:        map[string]*claim{},
		claimByPolicy: map[string]string{},
		uploads:       map[string]*upload{},
		nonces:        map[string][]issuedNonce{},
		kyc:           map[string][]avata.KYCRequest{},
	}
}

// proposal is a priced offer and the purchase facts a confirm must match.
type proposal struct {
	kind        string
	out         avata.Proposal
	total       string // canonical decimal
	chain       string
	token       string
	nftContract string
	marketplace string
	country     string
	checkIn     string
	currency    string
	policyUUID  string // set once confirmed
}

type policy struct {
	uuid, policyID, kind string
	status               avata.PolicyStatus
	reference            string
	owner                string // EIP-55 wallet, "" when the product has none
	total                string
	chain, token         string
	withTerm             bool // NFT and booking run for durationDays
	confirmedAt          time.Time
	start, end           time.Time
	nft                  *avata.NFTData
	activated            bool
}

type claim struct {
	uuid, policyUUID string
	id               string // details.claimId
	reason, email    string
	files            []avata.ClaimFile
	status           avata.ClaimStatus
	created          time.Time
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
func (st *state) newProposal(p *proposal) avata.Proposal {
	p.out = avata.Proposal{
		ID:               uuid.NewString(),
		TotalValue:       number(p.total),
		PolicyPercentage: number(policyPercentage),
		PolicyPrice:      number(price(p.total, policyPercentage)),
		PolicyTermsURL:   termsURLBase + p.kind + ".pdf",
		PolicyLogoURL:    policyLogoURL,
		AvataLogoURL:     avataLogoURL,
	}
	if p.kind != kindDigitalAsset {
		p.out.Duration = number(fmt.Sprint(durationDays))
		p.out.CoveragePercentage = number(coveragePercentage)
	}
	st.proposals[p.out.ID] = p
	return p.out
}

// newPolicy creates the PENDING policy for a confirmed proposal. Caller holds s.mu.
func (st *state) newPolicy(p *proposal, reference, owner string, nft *avata.NFTData, now time.Time) *policy {
	st.policySeq++
	pol := &policy{
		uuid:        uuid.NewString(),
		policyID:    fmt.Sprintf("AVT-%06d", st.policySeq),
		kind:        p.kind,
		status:      avata.PolicyPending,
		reference:   reference,
		owner:       owner,
		total:       p.total,
		chain:       p.chain,
		token:       p.token,
		withTerm:    p.kind != kindDigitalAsset,
		confirmedAt: now.UTC(),
		nft:         nft,
	}
	p.policyUUID = pol.uuid
	st.policies[pol.uuid] = pol
	st.policyOrder = append(st.policyOrder, pol.uuid)
	return pol
}

// setStatus moves a policy; accepting starts its cover period.
func (pol *policy) setStatus(status avata.PolicyStatus, now time.Time) {
	pol.status = status
	if (status == avata.PolicyAccepted || status == avata.PolicyApproved) && pol.start.IsZero() {
		pol.start = now.UTC()
		if pol.withTerm {
			pol.end = pol.start.AddDate(0, 0, durationDays)
		} else {
			pol.end = pol.start.AddDate(1, 0, 0)
		}
	}
}

// wire renders the policy as the API returns it (numbers as strings there).
func (pol *policy) wire() avata.Policy {
	hash := sha256.Sum256([]byte(pol.uuid + "|" + pol.policyID))
	out := avata.Policy{
		UUID:          pol.uuid,
		PolicyID:      pol.policyID,
		PolicyHash:    "0x" + hex.EncodeToString(hash[:]),
		PolicyType:    pol.kind,
		Status:        pol.status,
		StartDateTime: isoTime(pol.start),
		EndDateTime:   isoTime(pol.end),
		PurchaseData: avata.PurchaseData{
			Reference:   pol.reference,
			TotalValue:  pol.total,
			ConfirmedAt: isoTime(pol.confirmedAt),
			NFT:         pol.nft,
		},
	}
	if pol.withTerm {
		out.PurchaseData.Duration = fmt.Sprint(durationDays)
		out.PurchaseData.CoveragePercentage = coveragePercentage
	}
	if pol.status == avata.PolicyExpired || pol.status == avata.PolicyRejected {
		out.FinishedAt = out.EndDateTime
	}
	return out
}

func (pol *policy) update() avata.PolicyUpdate {
	return avata.PolicyUpdate{
		Status: pol.status, UUID: pol.uuid, Reference: pol.reference,
		Details: avata.PolicyUpdateDetails{
			PolicyID: pol.policyID, PolicyType: pol.kind,
			StartDateTime: isoTime(pol.start), EndDateTime: isoTime(pol.end),
		},
	}
}

func (c *claim) wire(pol *policy) avata.Claim {
	return avata.Claim{
		UUID: c.uuid, Reason: c.reason, CreatedDate: isoTime(c.created),
		Files: c.files, Email: c.email, Status: c.status, Policy: pol.wire(),
	}
}

func (c *claim) update() avata.ClaimUpdate {
	return avata.ClaimUpdate{
		Status: c.status, UUID: c.uuid, PolicyUUID: c.policyUUID,
		Details: avata.ClaimUpdateDetails{ClaimID: c.id},
	}
}

// isoTime renders Avata's "2021-01-01T00:00:00.000Z" form; zero = "".
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
