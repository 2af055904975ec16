package etvasrules

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/jobs"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
)

// ProfileFetcher fetches an Etvas purchase's customer profile (etvas.Client implements it).
type ProfileFetcher interface {
	UserProfile(ctx context.Context, contextID string, includeAddress bool) (etvas.Profile, error)
}

// ProfileJob is the jobs.Handler of ProfileJobKind: it asks Etvas for the profile (outside any
// transaction; a failure is retried by the worker with backoff) and attaches it to the
// purchase's customer (customer.updated, source channel "job"). A customer erased in the
// meantime is left alone: a late profile must not bring personal data back. While f's circuit
// breaker is open (f has BreakerState, as etvas.Client does) no profile job is attempted
// (jobs.Gate), so an Etvas outage does not use up the jobs' attempts.
func (r *Rules) ProfileJob(f ProfileFetcher) jobs.Handler { return profileJob{r: r, f: f} }

type profileJob struct {
	r *Rules
	f ProfileFetcher
}

// Ready implements jobs.Gate.
func (h profileJob) Ready() bool {
	b, ok := h.f.(interface{ BreakerState() string })
	return !ok || b.BreakerState() != "open"
}

// Perform implements jobs.Handler.
func (h profileJob) Perform(ctx context.Context, j domain.Job) (jobs.Apply, error) {
	var in profilePayload
	if err := json.Unmarshal(j.Payload, &in); err != nil || in.ContextID == "" || j.CustomerID == "" {
		return nil, jobs.Permanent(fmt.Errorf("etvasrules: profile job %s has no context or customer", j.ID))
	}
	pr, err := h.f.UserProfile(ctx, in.ContextID, true)
	if err != nil {
		return nil, err
	}
	profile := Profile(pr)
	return func(ctx context.Context, tx store.Tx, j domain.Job) error {
		c, err := tx.GetCustomer(ctx, j.CustomerID)
		if err != nil {
			return fmt.Errorf("etvasrules: customer of profile job %s: %w", j.ID, err)
		}
		if c.Status == domain.CustomerErased {
			return nil
		}
		src := lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelJob, Ref: j.ID}
		_, _, err = h.r.lc.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: in.ContextID, Profile: &profile}, src)
		return err
	}, nil
}
