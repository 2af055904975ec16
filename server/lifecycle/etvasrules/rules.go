// Package etvasrules holds the Etvas rules: how an Etvas event (either format) changes
// customers and policies. Every change goes through the lifecycle, so it is written in the
// caller's transaction and appends its event with the source; the translation of Etvas data into
// domain values lives in translate.go. The webhook service (server/api) only maps messages to
// these inputs, calls, and maps errors.
//
//   - purchase (product.purchase, product.purchased, purchase.succeeded): policy ACTIVE (Partner
//     etvas, Kind ETVAS_PRODUCT). Formal: the caller answers 2xx only after it committed, and
//     only a verification failure (or our storage failing) answers anything else. A
//     portal purchase of a product whose policy has ended (canceled, expired) — a re-purchase —
//     creates a new policy. An App purchase creates the customer without a profile and queues
//     the profile fetch as a durable job (ProfileJob), so Etvas being slow or down never fails
//     the purchase.
//   - cancel → CANCELED, suspend → SUSPENDED, resume/repurchased → ACTIVE, ordered by the event
//     time (an event older than the one that set the current status changes nothing). An event
//     for a purchase we have not seen yet creates the policy in that status, so a purchase
//     delivered late (older) cannot undo it.
//   - user.delete(d): the customer's running Etvas policies are canceled and the customer is
//     erased everywhere.
//
// Policy keys: the App format's contextId; the portal format has none, so its current policy
// for a product is keyed lifecycle.PortalPolicyKey (`portal:<Etvas user id>:<product id>`). When
// the product is bought again after the policy ended, the ended policy's key is moved aside to
// `<key>:ended:<policy id>` (policy.updated) and the new policy takes the key.
package etvasrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
)

// Rules applies Etvas events. It holds no state besides the lifecycle.
type Rules struct {
	lc *lifecycle.Lifecycle
}

// New returns the Etvas rules over lc.
func New(lc *lifecycle.Lifecycle) *Rules { return &Rules{lc: lc} }

// Outcome is what applying a product event did.
type Outcome struct {
	Policy     domain.Policy
	CustomerID string
	// Note is set when the event was recorded but changed nothing because it cannot apply (an
	// illegal transition of an informal event).
	Note string
	// ProfileQueued reports that a profile job was queued (the caller may wake the worker).
	ProfileQueued bool
}

// PortalProduct is a developer-portal product event (purchase, cancel, suspend, resume).
type PortalProduct struct {
	Kind      etvas.EventKind
	UserID    string // Etvas user id
	ProductID string // Etvas product id
	PartnerID string // our policy id, when Etvas echoes it back
	Name      string
	Price     domain.Money // PortalPrice
	Billing   domain.Billing
	At        time.Time // event time (webhook.EventTime)
}

// ApplyPortalProduct applies a portal product event: the customer (by Etvas user id) and the
// policy of the product.
func (r *Rules) ApplyPortalProduct(ctx context.Context, tx store.Tx, ev PortalProduct, src lifecycle.Source) (Outcome, error) {
	c, _, err := r.lc.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: ev.UserID}, src)
	if err != nil {
		return Outcome{}, err
	}
	key := lifecycle.PortalPolicyKey(ev.UserID, ev.ProductID)
	var existing domain.Policy
	var found bool
	if ev.Kind == etvas.EventPurchased {
		// A purchase is about the product's current policy, whatever partnerId it carries.
		if existing, found, err = findByContext(ctx, tx, key); err != nil {
			return Outcome{}, err
		}
		if found && existing.Status.Terminal() && !ev.At.Before(existing.StatusTime) {
			// Bought again after the policy ended: a new policy. The ended one keeps its data
			// under a retired key. An older purchase (the original one, delivered after the
			// cancel that created the policy) is not a re-purchase: it falls through as stale.
			retired := existing
			retired.EtvasContextID = key + ":ended:" + existing.ID
			if _, err := r.lc.AmendPolicy(ctx, tx, existing, retired, "portal key retired: product bought again", src); err != nil {
				return Outcome{}, err
			}
			found = false
		}
	} else if existing, found, err = findPortalPolicy(ctx, tx, ev.PartnerID, ev.ProductID, key); err != nil {
		return Outcome{}, err
	}
	template := domain.Policy{
		CustomerID: c.ID, Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, ProductName: ev.Name,
		Premium: ev.Price, Billing: ev.Billing,
		EtvasContextID: key, EtvasProductID: ev.ProductID, EtvasUserID: ev.UserID,
	}
	p, note, err := r.applyStatus(ctx, tx, existing, found, template, ev.Kind, ev.At, src)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Policy: p, CustomerID: c.ID, Note: note}, nil
}

// AppProduct is an Etvas App product event.
type AppProduct struct {
	Kind      etvas.EventKind
	ContextID string // contextId (or purchaseId)
	ProductID string
	At        time.Time
}

// ApplyAppProduct applies an App product event to the policy of its context. A purchase
// creates the customer of the context (without profile: Etvas is not called here) and queues
// ProfileJob, which attaches the profile when Etvas answers.
func (r *Rules) ApplyAppProduct(ctx context.Context, tx store.Tx, ev AppProduct, src lifecycle.Source) (Outcome, error) {
	in := lifecycle.CustomerInput{EtvasContextID: ev.ContextID}
	var customerID string
	c, err := r.lc.FindCustomer(ctx, tx, in)
	switch {
	case err == nil:
		customerID = c.ID
	case !errors.Is(err, store.ErrNotFound):
		return Outcome{}, err
	case ev.Kind == etvas.EventPurchased:
		if c, _, err = r.lc.UpsertCustomer(ctx, tx, in, src); err != nil {
			return Outcome{}, err
		}
		customerID = c.ID
	}
	existing, found, err := findByContext(ctx, tx, ev.ContextID)
	if err != nil {
		return Outcome{}, err
	}
	template := domain.Policy{
		CustomerID: customerID, Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct,
		EtvasContextID: ev.ContextID, EtvasProductID: ev.ProductID,
	}
	p, note, err := r.applyStatus(ctx, tx, existing, found, template, ev.Kind, ev.At, src)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Policy: p, CustomerID: p.CustomerID, Note: note}
	if ev.Kind == etvas.EventPurchased && customerID != "" {
		if out.ProfileQueued, err = queueProfile(ctx, tx, ev.ContextID, customerID); err != nil {
			return Outcome{}, err
		}
	}
	return out, nil
}

// applyStatus applies a purchase/cancel/suspend/resume to the policy (creating it from template
// when absent). note is set when the event was recorded but changed nothing.
func (r *Rules) applyStatus(ctx context.Context, tx store.Tx, existing domain.Policy, found bool, template domain.Policy, kind etvas.EventKind, at time.Time, src lifecycle.Source) (domain.Policy, string, error) {
	to := Target(kind)
	if !found {
		template.Status, template.StatusTime, template.StartTime = to, at, at
		p, err := r.lc.CreatePolicy(ctx, tx, template, src)
		return p, "", err
	}
	p, err := r.lc.AmendPolicy(ctx, tx, existing, fillPolicy(existing, template), "completed by etvas "+string(kind), src)
	if err != nil {
		return domain.Policy{}, "", err
	}
	updated, _, err := r.lc.TransitionPolicy(ctx, tx, p, to, at, "etvas "+string(kind), src)
	var terr *domain.TransitionError
	switch {
	case errors.As(err, &terr) && kind.IsFormal():
		// A purchase of a purchase that already ended (an App context canceled before its
		// purchase arrived — a retry hours later, events without timestamps). Refusing it would
		// mark the purchase failed at Etvas and need a human, yet nothing is wrong: the policy
		// exists and the customer's later cancel stands. Recorded, acknowledged, not applied.
		return p, "purchase of a policy that is already " + string(p.Status) + ": " + terr.Error(), nil
	case errors.As(err, &terr):
		return p, terr.Error(), nil
	case err != nil:
		return domain.Policy{}, "", err
	}
	return updated, "", nil
}

// fillPolicy completes a policy created by an early status event with what the purchase tells
// (customer, product, price); it never overwrites a value already set.
func fillPolicy(p, from domain.Policy) domain.Policy {
	set := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
		}
	}
	set(&p.CustomerID, from.CustomerID)
	set(&p.ProductName, from.ProductName)
	set(&p.EtvasProductID, from.EtvasProductID)
	set(&p.EtvasUserID, from.EtvasUserID)
	set(&p.Billing.PriceType, from.Billing.PriceType)
	set(&p.Billing.PriceInterval, from.Billing.PriceInterval)
	if p.Premium.IsZero() && !from.Premium.IsZero() {
		p.Premium = from.Premium
	}
	return p
}

// findPortalPolicy finds the policy of a portal status event: by our policy id when Etvas echoes
// it back as partnerId (and it is the same Etvas product), else by the portal key.
func findPortalPolicy(ctx context.Context, tx store.Tx, partnerID, productID, key string) (domain.Policy, bool, error) {
	if domain.ValidID(partnerID) {
		p, err := tx.GetPolicy(ctx, partnerID)
		switch {
		case err == nil && p.Partner == domain.PartnerEtvas && p.EtvasProductID == productID:
			return p, true, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return domain.Policy{}, false, fmt.Errorf("etvasrules: get policy %s: %w", partnerID, err)
		}
	}
	return findByContext(ctx, tx, key)
}

func findByContext(ctx context.Context, tx store.PolicyReader, contextID string) (domain.Policy, bool, error) {
	p, err := tx.FindPolicyByEtvasContextID(ctx, contextID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return domain.Policy{}, false, nil
	case err != nil:
		return domain.Policy{}, false, fmt.Errorf("etvasrules: find policy by Etvas context: %w", err)
	}
	return p, true, nil
}

// EraseUser applies user.delete(d) of the portal format: the customer with that Etvas user id.
// found is false when we do not know the user.
func (r *Rules) EraseUser(ctx context.Context, tx store.Tx, etvasUserID string, at time.Time, src lifecycle.Source) (string, bool, error) {
	if etvasUserID == "" {
		return "", false, nil
	}
	c, err := r.lc.FindCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: etvasUserID})
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return c.ID, true, r.erase(ctx, tx, c.ID, at, src)
}

// EraseContext applies the App format's user.deleted: the customer of the purchase context
// (linked to it, or the customer of its policy).
func (r *Rules) EraseContext(ctx context.Context, tx store.Tx, contextID string, at time.Time, src lifecycle.Source) (string, bool, error) {
	c, err := r.lc.FindCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: contextID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		p, found, perr := findByContext(ctx, tx, contextID)
		if perr != nil {
			return "", false, perr
		}
		if !found || p.CustomerID == "" {
			return "", false, nil
		}
		return p.CustomerID, true, r.erase(ctx, tx, p.CustomerID, at, src)
	case err != nil:
		return "", false, err
	}
	return c.ID, true, r.erase(ctx, tx, c.ID, at, src)
}

// erase cancels the customer's running Etvas policies (a deleted account must not keep using
// the product) and erases the customer.
func (r *Rules) erase(ctx context.Context, tx store.Tx, customerID string, at time.Time, src lifecycle.Source) error {
	page := store.PageRequest{Size: store.MaxPageSize}
	for {
		policies, err := tx.ListPolicies(ctx, store.PolicyFilter{CustomerID: customerID, Partner: domain.PartnerEtvas}, page)
		if err != nil {
			return fmt.Errorf("etvasrules: list policies of customer %s: %w", customerID, err)
		}
		for _, p := range policies.Items {
			if p.Status != domain.PolicyActive && p.Status != domain.PolicySuspended {
				continue
			}
			if _, _, err := r.lc.TransitionPolicy(ctx, tx, p, domain.PolicyCanceled, at, "user deleted", src); err != nil && !errors.Is(err, domain.ErrIllegalTransition) {
				return err
			}
		}
		if policies.Next == "" {
			break
		}
		page.After = policies.Next
	}
	_, err := r.lc.EraseCustomer(ctx, tx, customerID, domain.ErasurePartnerDeletion, src)
	return err
}

// ProfileJobKind is the job that fetches an App purchase's customer profile from Etvas.
const ProfileJobKind = "etvas.fetch_profile"

type profilePayload struct {
	ContextID string `json:"contextId"`
}

// queueProfile writes the profile job of contextID (once per context).
func queueProfile(ctx context.Context, tx store.Tx, contextID, customerID string) (bool, error) {
	payload, err := json.Marshal(profilePayload{ContextID: contextID})
	if err != nil {
		return false, fmt.Errorf("etvasrules: encode profile job: %w", err)
	}
	_, created, err := tx.EnsureJob(ctx, domain.Job{Kind: ProfileJobKind, Key: contextID, CustomerID: customerID, Payload: payload})
	if err != nil {
		return false, fmt.Errorf("etvasrules: queue profile job: %w", err)
	}
	return created, nil
}
