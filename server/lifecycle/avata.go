package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle/avatarules"
	"github.com/covergate/covergate/server/store"
)

// ApplyAvataPolicyStatus applies a policy status Avata reported (and that we fetched from
// Avata) to p, following avatarules.PolicyTarget: in-flight and unknown statuses change
// nothing (StatusUnchanged); an illegal move is a *domain.TransitionError.
func (l *Lifecycle) ApplyAvataPolicyStatus(ctx context.Context, tx store.Tx, p domain.Policy, avataStatus string, at time.Time, src Source) (domain.Policy, domain.StatusChange, error) {
	to, settled := avatarules.PolicyTarget(avataStatus)
	if !settled {
		return p, domain.StatusUnchanged, nil
	}
	return l.TransitionPolicy(ctx, tx, p, to, at, "avata "+avataStatus, src)
}

// ApplyAvataPolicy records what Avata reported about a policy — reported is p with Avata's data
// (dates, policy id/hash/type, finishedAt, reference) merged in, dataChanged whether it differs —
// and moves it to `to` when set, in one write where both change. A move the state machine
// refuses is returned as the *domain.TransitionError after the data was still recorded.
func (l *Lifecycle) ApplyAvataPolicy(ctx context.Context, tx store.Tx, p, reported domain.Policy, dataChanged bool,
	to domain.PolicyStatus, at time.Time, reason string, src Source,
) (domain.Policy, error) {
	var terr error
	if to != "" {
		next, _, err := l.TransitionPolicy(ctx, tx, reported, to, at, reason, src)
		var te *domain.TransitionError
		switch {
		case errors.As(err, &te):
			terr = err
		case err != nil:
			return p, err
		case next.Version != p.Version:
			return next, nil // written with the data
		}
	}
	if !dataChanged {
		return p, terr
	}
	updated, err := tx.UpdatePolicy(ctx, reported, p.Version)
	if err != nil {
		return p, fmt.Errorf("lifecycle: record Avata data of policy %s: %w", p.ID, err)
	}
	return updated, terr
}

// ApplyAvataPolicyReport applies a policy report Avata sent (callback, verified by fetch): the
// status through avatarules.PolicyTarget (in-flight and unknown statuses change no status) and
// the reported data, both through ApplyAvataPolicy.
func (l *Lifecycle) ApplyAvataPolicyReport(ctx context.Context, tx store.Tx, p, reported domain.Policy, dataChanged bool,
	avataStatus string, at time.Time, src Source,
) (domain.Policy, error) {
	to, _ := avatarules.PolicyTarget(avataStatus)
	return l.ApplyAvataPolicy(ctx, tx, p, reported, dataChanged, to, at, "avata "+avataStatus, src)
}

// AttachAvataPolicy records Avata's policy uuid on a policy recorded without one (Avata said
// "already confirmed" without it). A policy that already has another uuid is store.ErrConflict.
func (l *Lifecycle) AttachAvataPolicy(ctx context.Context, tx store.Tx, p domain.Policy, uuid string) (domain.Policy, error) {
	switch p.AvataPolicyUUID {
	case uuid:
		return p, nil
	case "":
	default:
		return p, fmt.Errorf("lifecycle: policy %s already has Avata uuid %s: %w", p.ID, p.AvataPolicyUUID, store.ErrConflict)
	}
	next := p
	next.AvataPolicyUUID = uuid
	updated, err := tx.UpdatePolicy(ctx, next, p.Version)
	if err != nil {
		return p, fmt.Errorf("lifecycle: attach Avata uuid to policy %s: %w", p.ID, err)
	}
	return updated, nil
}

// AvataClaim is what Avata told us about a claim on one of our policies.
type AvataClaim struct {
	Policy  domain.Policy
	UUID    string // Avata's claim uuid; "" when the answer carried none
	ClaimID string // details.claimId of a claim-update callback
	Status  string // Avata's claim status; "" or unknown changes no status
	At      time.Time
	// New is the claim to record when none of ours matches (avatarules.ClaimNew): our own
	// draft (id, reason, e-mail, documents) when we filed it, else zero (a claim filed outside
	// Covergate). Policy, customer, uuid and claim id are filled in.
	New domain.Claim
}

// ApplyAvataClaim maps an Avata claim onto our claims on its policy (avatarules.MatchClaim):
// it attaches the uuid and claim id to the matching claim, or records a new claim (claim.created),
// then applies the status (claim.status_changed, with the Avata uuid in the event data). An
// illegal status move is returned as a *domain.TransitionError after the attach was written:
// the caller may commit the attach and ignore the status.
func (l *Lifecycle) ApplyAvataClaim(ctx context.Context, tx store.Tx, in AvataClaim, src Source) (domain.Claim, avatarules.ClaimMatch, error) {
	claims, err := policyClaims(ctx, tx, in.Policy.ID)
	if err != nil {
		return domain.Claim{}, 0, err
	}
	idx, match := avatarules.MatchClaim(claims, in.UUID)
	var c domain.Claim
	switch match {
	case avatarules.ClaimNew:
		n := in.New
		n.PolicyID, n.CustomerID, n.AvataClaimUUID, n.AvataClaimID = in.Policy.ID, in.Policy.CustomerID, in.UUID, in.ClaimID
		n.Status, n.StatusTime = domain.ClaimCreated, in.At
		if c, err = l.CreateClaim(ctx, tx, n, src); err != nil {
			return domain.Claim{}, 0, err
		}
	default:
		c = claims[idx]
		next := c
		if next.AvataClaimUUID == "" {
			next.AvataClaimUUID = in.UUID
		}
		if in.ClaimID != "" {
			next.AvataClaimID = in.ClaimID
		}
		if next.AvataClaimUUID != c.AvataClaimUUID || next.AvataClaimID != c.AvataClaimID {
			if c, err = tx.UpdateClaim(ctx, next, c.Version); err != nil {
				return domain.Claim{}, 0, fmt.Errorf("lifecycle: attach Avata ids to claim %s: %w", c.ID, err)
			}
		}
	}
	to, ok := avatarules.ClaimTarget(in.Status)
	if !ok {
		return c, match, nil
	}
	updated, _, err := l.TransitionClaim(ctx, tx, c, to, in.At, src)
	if err != nil {
		return c, match, err
	}
	return updated, match, nil
}

// policyClaims lists every claim on a policy (a handful).
func policyClaims(ctx context.Context, tx store.Tx, policyID string) ([]domain.Claim, error) {
	var out []domain.Claim
	page := store.PageRequest{Size: store.MaxPageSize}
	for {
		claims, err := tx.ListClaims(ctx, store.ClaimFilter{PolicyID: policyID}, page)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: claims of policy %s: %w", policyID, err)
		}
		out = append(out, claims.Items...)
		if claims.Next == "" {
			return out, nil
		}
		page.After = claims.Next
	}
}

// BeginPartnerCall records the intent of a partner call with a side effect, before the call.
// Another pending call with the same dedupe key is store.ErrDuplicate.
func (l *Lifecycle) BeginPartnerCall(ctx context.Context, tx store.Tx, c domain.PartnerCall) (domain.PartnerCall, error) {
	c.State = domain.PartnerCallPending
	created, err := tx.CreatePartnerCall(ctx, c)
	if err != nil {
		return c, fmt.Errorf("lifecycle: record partner call %s: %w", c.DedupeKey, err)
	}
	return created, nil
}

// SettlePartnerCall records a call's outcome (in the transaction that records its effect, if
// any). The request is dropped: it was kept only to send the call again, and may hold personal
// data. c.Version must be the stored version (a concurrent settle → store.ErrConflict).
func (l *Lifecycle) SettlePartnerCall(ctx context.Context, tx store.Tx, c domain.PartnerCall, state domain.PartnerCallState, result []byte, lastError string) (domain.PartnerCall, error) {
	next := c
	next.State, next.Result, next.LastError, next.Request = state, result, lastError, nil
	updated, err := tx.UpdatePartnerCall(ctx, next, c.Version)
	if err != nil {
		return c, fmt.Errorf("lifecycle: settle partner call %s: %w", c.ID, err)
	}
	return updated, nil
}

// RecordClaimDocuments records documents uploaded to the carrier for a future claim (their
// partner keys, sizes and digests; never the content).
func (l *Lifecycle) RecordClaimDocuments(ctx context.Context, tx store.Tx, docs []domain.ClaimDocument) ([]domain.ClaimDocument, error) {
	out := make([]domain.ClaimDocument, len(docs))
	for i, d := range docs {
		created, err := tx.CreateClaimDocument(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: record claim document of policy %s: %w", d.PolicyID, err)
		}
		out[i] = created
	}
	return out, nil
}
