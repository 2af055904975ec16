package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// ChannelJob is the Source.Channel of changes made by a background job (server/jobs), such as
// the Etvas profile fetched after a purchase.
const ChannelJob = "job"

// AmendPolicy writes next, a change of p's data that keeps its status (what a late purchase
// tells about a policy an earlier status event created, or a partner key moved aside), with
// p.Version as the expected version, and appends policy.updated naming the change. A next equal
// to p changes nothing and appends nothing.
func (l *Lifecycle) AmendPolicy(ctx context.Context, tx store.Tx, p, next domain.Policy, change string, src Source) (domain.Policy, error) {
	if next.Status != p.Status || next.StatusTime != p.StatusTime {
		return p, fmt.Errorf("lifecycle: amend policy %s: a status change goes through TransitionPolicy", p.ID)
	}
	if policyDataEqual(p, next) {
		return p, nil
	}
	updated, err := tx.UpdatePolicy(ctx, next, p.Version)
	if err != nil {
		return p, fmt.Errorf("lifecycle: amend policy %s: %w", p.ID, err)
	}
	if err := l.appendPolicyEvent(ctx, tx, domain.EventPolicyUpdated, updated, "", change, src); err != nil {
		return p, err
	}
	return updated, nil
}

// policyDataEqual compares what AmendPolicy may change.
func policyDataEqual(a, b domain.Policy) bool {
	a.Version, b.Version = 0, 0
	a.UpdateTime, b.UpdateTime = time.Time{}, time.Time{}
	return a == b
}
