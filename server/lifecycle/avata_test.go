package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/lifecycle/avatarules"
	"github.com/covergate/covergate/server/store"
)

// TestApplyAvataClaimOverTime walks several claims on one policy through the claim rule: our
// claims recorded without Avata's uuid get the uuids in filing order, a known uuid is applied
// to its claim, a uuid none of our claims can take is recorded as a new claim.
func TestApplyAvataClaimOverTime(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	avataSrc := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelWebhook, Ref: "cb"}
	var p domain.Policy
	var first, second domain.Claim
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		if p, err = l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, Status: domain.PolicyActive, AvataPolicyUUID: "pol-1"}, avataSrc); err != nil {
			return err
		}
		// Two claims filed over time, both recorded before Avata told us their uuids.
		if first, err = l.CreateClaim(ctx, tx, domain.Claim{PolicyID: p.ID, Status: domain.ClaimCreated, Reason: "first"}, avataSrc); err != nil {
			return err
		}
		second, err = l.CreateClaim(ctx, tx, domain.Claim{PolicyID: p.ID, Status: domain.ClaimCreated, Reason: "second"}, avataSrc)
		return err
	})
	apply := func(uuid, claimID, status string, at time.Time) (domain.Claim, avatarules.ClaimMatch, error) {
		var c domain.Claim
		var m avatarules.ClaimMatch
		err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			var err error
			c, m, err = l.ApplyAvataClaim(ctx, tx, lifecycle.AvataClaim{Policy: p, UUID: uuid, ClaimID: claimID, Status: status, At: at}, avataSrc)
			var terr *domain.TransitionError
			if errors.As(err, &terr) {
				return nil // the attach commits; the status is ignored
			}
			return err
		})
		return c, m, err
	}
	steps := []struct {
		name          string
		uuid, claimID string
		status        string
		wantID        string // "" = a new claim
		wantMatch     avatarules.ClaimMatch
		wantStatus    domain.ClaimStatus
	}{
		{"first uuid goes to the oldest claim without one", "u-1", "100", "PENDING", first.ID, avatarules.ClaimAttach, domain.ClaimPending},
		{"a known uuid is its claim", "u-1", "100", "APPROVED", first.ID, avatarules.ClaimKnown, domain.ClaimApproved},
		{"the next uuid goes to the next claim", "u-2", "200", "REVIEWED", second.ID, avatarules.ClaimAttach, domain.ClaimReviewed},
		{"a uuid no claim can take is a claim filed elsewhere", "u-3", "300", "CREATED", "", avatarules.ClaimNew, domain.ClaimCreated},
		{"an unknown status still attaches nothing new and changes nothing", "u-2", "", "PAID", second.ID, avatarules.ClaimKnown, domain.ClaimReviewed},
	}
	at := t0
	for _, s := range steps {
		at = at.Add(time.Minute)
		c, m, err := apply(s.uuid, s.claimID, s.status, at)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if m != s.wantMatch || (s.wantID != "" && c.ID != s.wantID) || (s.wantID == "" && (c.ID == first.ID || c.ID == second.ID)) ||
			c.AvataClaimUUID != s.uuid || c.Status != s.wantStatus || (s.claimID != "" && c.AvataClaimID != s.claimID) {
			t.Fatalf("%s: claim %+v, match %v", s.name, c, m)
		}
	}
	claims, err := st.ListClaims(context.Background(), store.ClaimFilter{PolicyID: p.ID}, store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 3 {
		t.Fatalf("claims on the policy: %+v", claims.Items)
	}
	// The attach of an uuid alone is not an event; every status change and the new claim are.
	types := eventTypes(t, st)
	if n := countOf(types, domain.EventClaimStatusChanged); n != 3 {
		t.Fatalf("status change events = %d in %v", n, types)
	}
	if n := countOf(types, domain.EventClaimCreated); n != 3 {
		t.Fatalf("claim.created events = %d in %v", n, types)
	}
	// A backwards status (APPROVED → PENDING) is refused after the attach.
	if _, _, err := apply("u-1", "", "PENDING", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c, err := st.GetClaim(context.Background(), first.ID)
	if err != nil || c.Status != domain.ClaimApproved {
		t.Fatalf("after a backwards status: %+v, %v", c, err)
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestApplyAvataPolicyStatusAndAttach(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	avataSrc := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelWebhook, Ref: "cb"}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		p, err := l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, Status: domain.PolicyPending, AvataReference: "ref-1"}, avataSrc)
		if err != nil {
			return err
		}
		if p, err = l.AttachAvataPolicy(ctx, tx, p, "pol-1"); err != nil || p.AvataPolicyUUID != "pol-1" {
			t.Fatalf("attach: %+v, %v", p, err)
		}
		if _, err := l.AttachAvataPolicy(ctx, tx, p, "pol-2"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("attach of another uuid = %v, want ErrConflict", err)
		}
		for _, in := range []string{"CREATED", "SEND", "RETRYING", "nonsense"} {
			if p, _, err = l.ApplyAvataPolicyStatus(ctx, tx, p, in, t0.Add(time.Minute), avataSrc); err != nil || p.Status != domain.PolicyPending {
				t.Fatalf("%s: %+v, %v", in, p, err)
			}
		}
		if p, _, err = l.ApplyAvataPolicyStatus(ctx, tx, p, "ACCEPTED", t0.Add(2*time.Minute), avataSrc); err != nil || p.Status != domain.PolicyActive {
			t.Fatalf("ACCEPTED: %+v, %v", p, err)
		}
		_, _, err = l.ApplyAvataPolicyStatus(ctx, tx, p, "REJECTED", t0.Add(3*time.Minute), avataSrc)
		var terr *domain.TransitionError
		if !errors.As(err, &terr) {
			t.Fatalf("ACTIVE → REJECTED = %v, want a TransitionError", err)
		}
		return nil
	})
	if types := eventTypes(t, st); !slices.Equal(types, []string{domain.EventPolicyCreated, domain.EventPolicyActivated}) {
		t.Fatalf("events = %v", types)
	}
}

// TestApplyAvataPolicyReport: a report's data and its status rule land in one write; an
// in-flight status records the data only; a move the state machine refuses still records the
// data and returns the TransitionError.
func TestApplyAvataPolicyReport(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	avataSrc := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelWebhook, Ref: "cb"}
	with := func(p domain.Policy, policyID string) domain.Policy {
		p.Avata.PolicyID, p.Avata.PartnerStatus = policyID, "reported"
		return p
	}
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		p, err := l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, Status: domain.PolicyPending, AvataPolicyUUID: "pol-1"}, avataSrc)
		if err != nil {
			return err
		}
		tests := []struct {
			name, status, policyID string
			wantStatus             domain.PolicyStatus
			wantVersion            int64 // after the step
			wantTransitionErr      bool
		}{
			{"in flight: data only", "PENDING", "P-1", domain.PolicyPending, 2, false},
			{"nothing new: no write", "SEND", "P-1", domain.PolicyPending, 2, false},
			{"accepted with new data: one write", "ACCEPTED", "P-2", domain.PolicyActive, 3, false},
			{"refused move: data kept", "REJECTED", "P-3", domain.PolicyActive, 4, true},
		}
		for _, tt := range tests {
			got, err := l.ApplyAvataPolicyReport(ctx, tx, p, with(p, tt.policyID), tt.policyID != p.Avata.PolicyID, tt.status, t0.Add(time.Minute), avataSrc)
			var terr *domain.TransitionError
			if errors.As(err, &terr) != tt.wantTransitionErr || (err != nil && !tt.wantTransitionErr) {
				t.Fatalf("%s: error %v", tt.name, err)
			}
			stored, gerr := tx.GetPolicy(ctx, p.ID)
			if gerr != nil {
				return gerr
			}
			if stored.Status != tt.wantStatus || stored.Version != tt.wantVersion || stored.Avata.PolicyID != tt.policyID || got.Version != stored.Version {
				t.Fatalf("%s: stored %s v%d policy id %q (returned v%d), want %s v%d %q",
					tt.name, stored.Status, stored.Version, stored.Avata.PolicyID, got.Version, tt.wantStatus, tt.wantVersion, tt.policyID)
			}
			p = stored
		}
		return nil
	})
}
