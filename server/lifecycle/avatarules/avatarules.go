// Package avatarules holds Avata's partner rules: how an Avata policy status maps onto a policy,
// how an Avata claim status maps onto a claim, and which of our claims an Avata claim is. They
// are pure functions over domain types and Avata's status names (strings, so the rules do not
// depend on the adapter); server/lifecycle applies them inside a store transaction.
//
// Avata API documentation (v0.12.0): https://documentation.demo.avata.gg
package avatarules

import (
	"sort"

	"github.com/covergate/covergate/server/domain"
)

// PolicyTarget maps Avata's policy status onto ours. settled is false for the statuses that say
// Avata is still working (CREATED, PENDING, SEND, RETRYING) and for unknown ones: they change
// nothing. ACCEPTED (and APPROVED, which Avata's own callback example uses) → ACTIVE,
// REJECTED → REJECTED, ERROR → FAILED, EXPIRED → EXPIRED.
func PolicyTarget(avataStatus string) (to domain.PolicyStatus, settled bool) {
	switch avataStatus {
	case "ACCEPTED", "APPROVED":
		return domain.PolicyActive, true
	case "REJECTED":
		return domain.PolicyRejected, true
	case "ERROR":
		return domain.PolicyFailed, true
	case "EXPIRED":
		return domain.PolicyExpired, true
	}
	return "", false
}

// PolicyInFlight reports whether avataStatus is one of Avata's documented in-progress statuses.
func PolicyInFlight(avataStatus string) bool {
	switch avataStatus {
	case "CREATED", "PENDING", "SEND", "RETRYING":
		return true
	}
	return false
}

// ClaimTarget maps Avata's claim status onto ours: the documented statuses (CREATED, PENDING,
// REPORTED, REVIEWED, REJECTED, APPROVED) one to one; ok is false for anything else.
func ClaimTarget(avataStatus string) (domain.ClaimStatus, bool) {
	s := domain.ClaimStatus(avataStatus)
	return s, s.Valid()
}

// ClaimMatch says how an Avata claim relates to the claims we hold on its policy.
type ClaimMatch int

// Claim matches.
const (
	// ClaimKnown: one of our claims already carries the Avata claim uuid.
	ClaimKnown ClaimMatch = iota + 1
	// ClaimAttach: the Avata claim is our oldest claim on the policy that has no Avata uuid
	// yet; the uuid is attached to it.
	ClaimAttach
	// ClaimNew: none of our claims can be it (every one has another uuid, or there are none):
	// Avata has a claim we never filed (e.g. through its merchant-claim portal), to be recorded.
	ClaimNew
)

// MatchClaim finds which of claims (all on one policy) the Avata claim uuid belongs to. The
// rule, for several claims on one policy over time: a claim that carries the uuid is it;
// otherwise the oldest claim without an Avata uuid is it — Avata's create-claim answer and its
// claim status call carry no claim uuid, Avata's status call knows one claim per policy, and we
// file a policy's claims one at a time (one claim create per policy is in flight at once), so
// uuids reach us in the order the claims were filed; otherwise it is a claim we do not have.
// An empty uuid (a status answer without one) matches the newest claim that has no uuid, or
// the newest claim of all when every claim has one (the status call describes the current claim).
// idx is the position in claims, -1 for ClaimNew.
func MatchClaim(claims []domain.Claim, uuid string) (idx int, m ClaimMatch) {
	order := make([]int, len(claims))
	for i := range claims {
		order[i] = i
	}
	// Ids are UUIDv7: id order is creation order.
	sort.SliceStable(order, func(a, b int) bool { return claims[order[a]].ID < claims[order[b]].ID })
	if uuid == "" {
		for i := len(order) - 1; i >= 0; i-- {
			if claims[order[i]].AvataClaimUUID == "" {
				return order[i], ClaimAttach
			}
		}
		if len(order) > 0 {
			return order[len(order)-1], ClaimKnown
		}
		return -1, ClaimNew
	}
	for _, i := range order {
		if claims[i].AvataClaimUUID == uuid {
			return i, ClaimKnown
		}
	}
	for _, i := range order {
		if claims[i].AvataClaimUUID == "" {
			return i, ClaimAttach
		}
	}
	return -1, ClaimNew
}
