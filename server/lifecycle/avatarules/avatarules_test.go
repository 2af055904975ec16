package avatarules

import (
	"testing"

	"github.com/covergate/covergate/server/domain"
)

func TestPolicyTarget(t *testing.T) {
	tests := []struct {
		in       string
		to       domain.PolicyStatus
		settled  bool
		inFlight bool
	}{
		{"ACCEPTED", domain.PolicyActive, true, false},
		{"APPROVED", domain.PolicyActive, true, false},
		{"REJECTED", domain.PolicyRejected, true, false},
		{"ERROR", domain.PolicyFailed, true, false},
		{"EXPIRED", domain.PolicyExpired, true, false},
		{"CREATED", "", false, true},
		{"PENDING", "", false, true},
		{"SEND", "", false, true},
		{"RETRYING", "", false, true},
		{"accepted", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		to, settled := PolicyTarget(tt.in)
		if to != tt.to || settled != tt.settled || PolicyInFlight(tt.in) != tt.inFlight {
			t.Errorf("%q → %q %v (in flight %v), want %q %v %v", tt.in, to, settled, PolicyInFlight(tt.in), tt.to, tt.settled, tt.inFlight)
		}
	}
}

func TestClaimTarget(t *testing.T) {
	for _, s := range []string{"CREATED", "PENDING", "REPORTED", "REVIEWED", "REJECTED", "APPROVED"} {
		if to, ok := ClaimTarget(s); !ok || string(to) != s {
			t.Errorf("%s → %s %v", s, to, ok)
		}
	}
	for _, s := range []string{"", "approved", "PAID"} {
		if _, ok := ClaimTarget(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestMatchClaim(t *testing.T) {
	c := func(id, uuid string) domain.Claim { return domain.Claim{ID: id, AvataClaimUUID: uuid} }
	tests := []struct {
		name   string
		claims []domain.Claim
		uuid   string
		idx    int
		m      ClaimMatch
	}{
		{"none", nil, "u1", -1, ClaimNew},
		{"known", []domain.Claim{c("01", "u0"), c("02", "u1")}, "u1", 1, ClaimKnown},
		{"attach to the only one without uuid", []domain.Claim{c("01", "u0"), c("02", "")}, "u1", 1, ClaimAttach},
		{"attach to the oldest without uuid", []domain.Claim{c("03", ""), c("02", ""), c("01", "u0")}, "u9", 1, ClaimAttach},
		{"known wins over attach", []domain.Claim{c("01", ""), c("02", "u1")}, "u1", 1, ClaimKnown},
		{"every claim has another uuid", []domain.Claim{c("01", "u0"), c("02", "u2")}, "u1", -1, ClaimNew},
		{"status without uuid: newest without uuid", []domain.Claim{c("01", ""), c("03", ""), c("02", "u2")}, "", 1, ClaimAttach},
		{"status without uuid: newest of all", []domain.Claim{c("01", "u1"), c("02", "u2")}, "", 1, ClaimKnown},
		{"status without uuid: none", nil, "", -1, ClaimNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, m := MatchClaim(tt.claims, tt.uuid)
			if idx != tt.idx || m != tt.m {
				t.Fatalf("MatchClaim = %d %v, want %d %v", idx, m, tt.idx, tt.m)
			}
		})
	}
}
