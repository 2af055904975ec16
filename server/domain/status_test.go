package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func TestPolicyTransitions(t *testing.T) {
	all := []PolicyStatus{PolicyPending, PolicyActive, PolicySuspended, PolicyCanceled, PolicyExpired, PolicyRejected, PolicyFailed}
	allowed := map[[2]PolicyStatus]bool{
		{PolicyPending, PolicyActive}: true, {PolicyPending, PolicyRejected}: true, {PolicyPending, PolicyFailed}: true,
		{PolicyActive, PolicySuspended}: true, {PolicyActive, PolicyCanceled}: true, {PolicyActive, PolicyExpired}: true,
		{PolicySuspended, PolicyActive}: true, {PolicySuspended, PolicyCanceled}: true, {PolicySuspended, PolicyExpired}: true,
	}
	// Every pair is checked, so a transition added by mistake fails here.
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]PolicyStatus{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
			err := CheckPolicyTransition(from, to)
			if want != (err == nil) {
				t.Errorf("CheckPolicyTransition(%s, %s) = %v", from, to, err)
			}
			if err != nil && !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("error %v does not wrap ErrIllegalTransition", err)
			}
		}
	}
	for _, s := range []PolicyStatus{PolicyCanceled, PolicyExpired, PolicyRejected, PolicyFailed} {
		if !s.Terminal() {
			t.Errorf("%s should be terminal", s)
		}
	}
}

func TestClaimTransitions(t *testing.T) {
	tests := []struct {
		from, to ClaimStatus
		ok       bool
	}{
		{ClaimCreated, ClaimPending, true},
		{ClaimCreated, ClaimApproved, true},
		{ClaimPending, ClaimReported, true},
		{ClaimReported, ClaimReviewed, true},
		{ClaimReviewed, ClaimRejected, true},
		{ClaimReviewed, ClaimPending, false},
		{ClaimApproved, ClaimRejected, false},
		{ClaimRejected, ClaimApproved, false},
		{ClaimPending, ClaimPending, false},
		{ClaimStatus("BOGUS"), ClaimApproved, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			if got := CanTransitionClaim(tt.from, tt.to); got != tt.ok {
				t.Fatalf("got %v want %v", got, tt.ok)
			}
		})
	}
}

func TestApplyPolicyStatusOrdering(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{Status: PolicyPending}
	steps := []struct {
		to   PolicyStatus
		at   time.Time
		want StatusChange
		err  bool
		end  PolicyStatus
	}{
		{PolicyActive, t0.Add(time.Minute), StatusChanged, false, PolicyActive},
		{PolicySuspended, t0.Add(3 * time.Minute), StatusChanged, false, PolicySuspended},
		// An older "activated" arriving late must not undo the suspension.
		{PolicyActive, t0.Add(2 * time.Minute), StatusStale, false, PolicySuspended},
		{PolicySuspended, t0.Add(4 * time.Minute), StatusUnchanged, false, PolicySuspended},
		{PolicyPending, t0.Add(5 * time.Minute), 0, true, PolicySuspended},
		{PolicyCanceled, t0.Add(6 * time.Minute), StatusChanged, false, PolicyCanceled},
	}
	for i, s := range steps {
		got, err := ApplyPolicyStatus(&p, s.to, s.at)
		if (err != nil) != s.err || got != s.want || p.Status != s.end {
			t.Fatalf("step %d: got %v, %v, status %s; want %v err=%v status %s", i, got, err, p.Status, s.want, s.err, s.end)
		}
	}
}
