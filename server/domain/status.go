package domain

import (
	"errors"
	"fmt"
	"time"
)

// Partner identifies one of the businesses Covergate integrates with.
type Partner string

// Partners.
const (
	PartnerEtvas      Partner = "etvas"
	PartnerAvata      Partner = "avata"
	PartnerScalepoint Partner = "scalepoint"
)

// Valid reports whether p is a known partner.
func (p Partner) Valid() bool {
	switch p {
	case PartnerEtvas, PartnerAvata, PartnerScalepoint:
		return true
	}
	return false
}

// PolicyStatus is the lifecycle state of a policy.
type PolicyStatus string

// Policy statuses.
const (
	PolicyPending   PolicyStatus = "PENDING"
	PolicyActive    PolicyStatus = "ACTIVE"
	PolicySuspended PolicyStatus = "SUSPENDED"
	PolicyCanceled  PolicyStatus = "CANCELED"
	PolicyExpired   PolicyStatus = "EXPIRED"
	PolicyRejected  PolicyStatus = "REJECTED"
	PolicyFailed    PolicyStatus = "FAILED"
)

// policyTransitions is the policy state machine:
// PENDING → ACTIVE | REJECTED | FAILED; ACTIVE ⇄ SUSPENDED;
// ACTIVE | SUSPENDED → CANCELED | EXPIRED. Everything else is terminal.
// ACTIVE → CANCELED is allowed because customers cancel running cover.
var policyTransitions = map[PolicyStatus][]PolicyStatus{
	PolicyPending:   {PolicyActive, PolicyRejected, PolicyFailed},
	PolicyActive:    {PolicySuspended, PolicyCanceled, PolicyExpired},
	PolicySuspended: {PolicyActive, PolicyCanceled, PolicyExpired},
}

// Valid reports whether s is a known status.
func (s PolicyStatus) Valid() bool {
	switch s {
	case PolicyPending, PolicyActive, PolicySuspended, PolicyCanceled, PolicyExpired, PolicyRejected, PolicyFailed:
		return true
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s PolicyStatus) Terminal() bool { return s.Valid() && len(policyTransitions[s]) == 0 }

// CanTransition reports whether a policy may move from one status to another.
// Staying in the same status is not a transition.
func CanTransition(from, to PolicyStatus) bool {
	for _, next := range policyTransitions[from] {
		if next == to {
			return true
		}
	}
	return false
}

// ErrIllegalTransition is wrapped by every *TransitionError so callers can test
// with errors.Is; the API maps it to FAILED_PRECONDITION.
var ErrIllegalTransition = errors.New("illegal status transition")

// TransitionError describes a refused status change.
type TransitionError struct {
	Entity string // "policy" or "claim"
	From   string
	To     string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: cannot go from %s to %s", e.Entity, e.From, e.To)
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// CheckPolicyTransition returns a *TransitionError when from → to is illegal.
func CheckPolicyTransition(from, to PolicyStatus) error {
	if !CanTransition(from, to) {
		return &TransitionError{Entity: "policy", From: string(from), To: string(to)}
	}
	return nil
}

// ClaimStatus is the lifecycle state of a claim.
type ClaimStatus string

// Claim statuses.
const (
	ClaimCreated  ClaimStatus = "CREATED"
	ClaimPending  ClaimStatus = "PENDING"
	ClaimReported ClaimStatus = "REPORTED"
	ClaimReviewed ClaimStatus = "REVIEWED"
	ClaimApproved ClaimStatus = "APPROVED"
	ClaimRejected ClaimStatus = "REJECTED"
)

// claimRank orders claim statuses; APPROVED and REJECTED are both final.
var claimRank = map[ClaimStatus]int{
	ClaimCreated: 0, ClaimPending: 1, ClaimReported: 2, ClaimReviewed: 3, ClaimApproved: 4, ClaimRejected: 4,
}

// Valid reports whether s is a known status.
func (s ClaimStatus) Valid() bool { _, ok := claimRank[s]; return ok }

// CanTransitionClaim reports whether a claim may move from one status to
// another: only forward, skipping steps allowed (a partner may report
// CREATED → APPROVED), never backward and never between the two final states.
func CanTransitionClaim(from, to ClaimStatus) bool {
	rf, ok1 := claimRank[from]
	rt, ok2 := claimRank[to]
	return ok1 && ok2 && rt > rf
}

// CheckClaimTransition returns a *TransitionError when from → to is illegal.
func CheckClaimTransition(from, to ClaimStatus) error {
	if !CanTransitionClaim(from, to) {
		return &TransitionError{Entity: "claim", From: string(from), To: string(to)}
	}
	return nil
}

// StatusChange is the outcome of applying a partner-reported status.
type StatusChange int

// Outcomes of ApplyPolicyStatus / ApplyClaimStatus.
const (
	// StatusChanged: the new status was applied.
	StatusChanged StatusChange = iota + 1
	// StatusUnchanged: the entity already had that status (a repeated event).
	StatusUnchanged
	// StatusStale: the event is older than the one that set the current
	// status, so it must not undo newer state.
	StatusStale
)

// ApplyPolicyStatus moves p to status `to` as reported by a partner event that
// happened at `at`. Older events are ignored (StatusStale) so out-of-order
// delivery never undoes newer state; illegal moves return a *TransitionError.
func ApplyPolicyStatus(p *Policy, to PolicyStatus, at time.Time) (StatusChange, error) {
	if !p.StatusTime.IsZero() && at.Before(p.StatusTime) {
		return StatusStale, nil
	}
	if p.Status == to {
		return StatusUnchanged, nil
	}
	if err := CheckPolicyTransition(p.Status, to); err != nil {
		return 0, err
	}
	p.Status, p.StatusTime = to, at
	return StatusChanged, nil
}

// ApplyClaimStatus is ApplyPolicyStatus for claims.
func ApplyClaimStatus(c *Claim, to ClaimStatus, at time.Time) (StatusChange, error) {
	if !c.StatusTime.IsZero() && at.Before(c.StatusTime) {
		return StatusStale, nil
	}
	if c.Status == to {
		return StatusUnchanged, nil
	}
	if err := CheckClaimTransition(c.Status, to); err != nil {
		return 0, err
	}
	c.Status, c.StatusTime = to, at
	return StatusChanged, nil
}
