package domain

import "time"

// PartnerCallState is where a partner call with a side effect stands.
type PartnerCallState string

// Partner call states.
const (
	// PartnerCallPending: the intent is recorded and the outcome is not (the call is in flight,
	// or its answer was lost to a timeout or a crash). The reconciler resolves it.
	PartnerCallPending PartnerCallState = "PENDING"
	// PartnerCallSucceeded: the partner said yes and its effect is recorded.
	PartnerCallSucceeded PartnerCallState = "SUCCEEDED"
	// PartnerCallFailed: the partner said no (or the call was never sent); nothing else changed.
	PartnerCallFailed PartnerCallState = "FAILED"
)

// Partner call operations (PartnerCall.Operation).
const (
	OpAvataConfirm     = "avata.confirm"      // confirm a proposal: the policy is issued
	OpAvataActivate    = "avata.activate"     // activate a booking policy (cancels the booking)
	OpAvataClaimCreate = "avata.claim_create" // file a claim
	OpAvataKYC         = "avata.kyc"          // send KYC data
)

// PartnerCall is the durable "before and after" of one partner call with a side effect: it is
// written before the call (PENDING, with everything needed to send it again) and settled in
// the transaction that records the call's effect. A PENDING call whose NextCheckTime has passed
// has an unknown outcome; the reconciler resolves it through the partner's status calls.
type PartnerCall struct {
	ID        string
	Partner   Partner
	Operation string
	// Subject names what the call is about, e.g. "policies/<id>" or "claims/<id>".
	Subject string
	// DedupeKey groups the attempts of one logical operation (e.g. the purchase of one quote):
	// at most one call per key is PENDING at a time.
	DedupeKey string
	// RequestHash identifies the caller's request, so a retry is told from a different request.
	RequestHash string
	State       PartnerCallState
	// Request is what the partner call sends (and what to record on success). It can hold
	// personal data: it is cleared when the call settles, and by erasure.
	Request []byte
	// Result is what the call produced (ids only, no personal data), e.g. {"policy_id": ...}.
	Result        []byte
	LastError     string
	Attempts      int32
	CustomerID    string // optional; erasure clears Request
	NextCheckTime time.Time
	Version       int64
	CreateTime    time.Time
	UpdateTime    time.Time
}
