// Package lifecycle applies changes to customers, policies and claims inside a store
// transaction and appends the normalized events that describe them, so that webhooks, API calls
// and pollers change state in exactly one way.
//
// Every method takes the caller's store.Tx and does no I/O besides it: partner calls happen
// before the transaction (store.Store.InTx may run its function more than once). Event data holds
// ids, statuses, partner references and times — never personal data — and every event that
// concerns a customer carries the customer id, so erasure can find it.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Channels a change can arrive through (Source.Channel).
const (
	ChannelWebhook = "webhook"
	ChannelAPI     = "api"
	ChannelPoll    = "poll"
	// ChannelReconcile: the reconciler resolved a partner call whose outcome was unknown.
	ChannelReconcile = "reconcile"
)

// Source says where a change came from; it is recorded in the event data.
type Source struct {
	Partner domain.Partner
	Channel string // "webhook" | "api" | "poll"
	Ref     string // delivery id or request id
}

// Config configures the lifecycle rules.
type Config struct {
	Now func() time.Time
	// ClaimRoute, when set, publishes every claim status change to this Scalepoint destination
	// (through the outbox, in the same transaction as the change).
	ClaimRoute *domain.Destination
	// ClaimRouteEventType is the Scalepoint event type of those publications (default
	// "claim_updated").
	ClaimRouteEventType string
}

// Lifecycle applies changes. It holds no state besides its configuration.
type Lifecycle struct {
	cfg Config
}

// New returns a Lifecycle.
func New(cfg Config) *Lifecycle {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClaimRouteEventType == "" {
		cfg.ClaimRouteEventType = "claim_updated"
	}
	return &Lifecycle{cfg: cfg}
}

// CustomerInput identifies a customer by its partner references and carries what the partner
// told us about it. Empty fields are ignored.
type CustomerInput struct {
	EtvasUserID    string
	EtvasContextID string
	AvataWallet    string
	// Profile, when set, updates the customer's personal data: non-empty fields overwrite the
	// stored ones, unless ReplaceProfile is set.
	Profile *domain.Profile
	// ReplaceProfile makes Profile the complete new profile (a partner's user.update sends every
	// field; an empty one was cleared by the user).
	ReplaceProfile bool
	Identity       *domain.IdentityVerification
}

func (in CustomerInput) empty() bool {
	return in.EtvasUserID == "" && in.EtvasContextID == "" && in.AvataWallet == ""
}

// ErrNoCustomerKey is returned by UpsertCustomer when the input names no partner reference.
var ErrNoCustomerKey = errors.New("lifecycle: customer input has no Etvas user id, context id or wallet")

// FindCustomer looks a customer up by Etvas user id, then Etvas context id, then wallet.
// store.ErrNotFound when none matches.
func (l *Lifecycle) FindCustomer(ctx context.Context, tx store.CustomerReader, in CustomerInput) (domain.Customer, error) {
	lookups := []struct {
		key  string
		find func(context.Context, string) (domain.Customer, error)
	}{
		{in.EtvasUserID, tx.FindCustomerByEtvasUserID},
		{in.EtvasContextID, tx.FindCustomerByEtvasContextID},
		{strings.ToLower(in.AvataWallet), tx.FindCustomerByAvataWallet},
	}
	for _, lk := range lookups {
		if lk.key == "" {
			continue
		}
		c, err := lk.find(ctx, lk.key)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return domain.Customer{}, fmt.Errorf("lifecycle: find customer: %w", err)
		}
	}
	return domain.Customer{}, fmt.Errorf("lifecycle: find customer: %w", store.ErrNotFound)
}

// UpsertCustomer finds the customer by Etvas user id, then context id, then wallet; creates it
// when absent or updates what changed; links the context id. It appends customer.created or
// customer.updated (nothing when nothing changed). created reports a new customer.
func (l *Lifecycle) UpsertCustomer(ctx context.Context, tx store.Tx, in CustomerInput, src Source) (domain.Customer, bool, error) {
	if in.empty() {
		return domain.Customer{}, false, ErrNoCustomerKey
	}
	c, err := l.FindCustomer(ctx, tx, in)
	switch {
	case errors.Is(err, store.ErrNotFound):
		var created bool
		if c, created, err = l.createCustomer(ctx, tx, in, src); err != nil || created {
			return c, created, err
		}
		// Another transaction created it first: update that customer below.
	case err != nil:
		return domain.Customer{}, false, err
	}
	next, changed := mergeCustomer(c, in)
	if changed {
		if c, err = tx.UpdateCustomer(ctx, next, c.Version); err != nil {
			return domain.Customer{}, false, fmt.Errorf("lifecycle: update customer %s: %w", c.ID, err)
		}
	}
	linked, err := l.linkContext(ctx, tx, c, in.EtvasContextID)
	if err != nil {
		return domain.Customer{}, false, err
	}
	if linked {
		c.EtvasContextIDs = append(c.EtvasContextIDs, in.EtvasContextID)
	}
	if changed || linked {
		if err := l.appendCustomerEvent(ctx, tx, domain.EventCustomerUpdated, c, src); err != nil {
			return domain.Customer{}, false, err
		}
	}
	return c, false, nil
}

// createCustomer creates the customer of in; created is false when a concurrent transaction
// created the same Etvas user or wallet first (c is then that customer, unchanged).
func (l *Lifecycle) createCustomer(ctx context.Context, tx store.Tx, in CustomerInput, src Source) (domain.Customer, bool, error) {
	c, _ := mergeCustomer(domain.Customer{Status: domain.CustomerActive}, in)
	created := true
	var err error
	switch {
	case c.EtvasUserID != "":
		// Ensure (insert-or-get) so that two deliveries racing on the same user never fail
		// with a duplicate, which would abort the transaction on PostgreSQL.
		c, created, err = tx.EnsureCustomerByEtvasUserID(ctx, c)
	case c.AvataWallet != "":
		c, created, err = tx.EnsureCustomerByAvataWallet(ctx, c)
	default:
		c, err = tx.CreateCustomer(ctx, c)
	}
	if err != nil {
		return domain.Customer{}, false, fmt.Errorf("lifecycle: create customer: %w", err)
	}
	if !created {
		return c, false, nil
	}
	if _, err := l.linkContext(ctx, tx, c, in.EtvasContextID); err != nil {
		return domain.Customer{}, false, err
	}
	if in.EtvasContextID != "" && !contains(c.EtvasContextIDs, in.EtvasContextID) {
		c.EtvasContextIDs = append(c.EtvasContextIDs, in.EtvasContextID)
	}
	if err := l.appendCustomerEvent(ctx, tx, domain.EventCustomerCreated, c, src); err != nil {
		return domain.Customer{}, false, err
	}
	return c, true, nil
}

// linkContext links contextID to c unless it is already linked; linked reports a new link.
func (l *Lifecycle) linkContext(ctx context.Context, tx store.Tx, c domain.Customer, contextID string) (bool, error) {
	if contextID == "" || contains(c.EtvasContextIDs, contextID) {
		return false, nil
	}
	if err := tx.AddEtvasContextID(ctx, c.ID, contextID); err != nil {
		return false, fmt.Errorf("lifecycle: link Etvas context to customer %s: %w", c.ID, err)
	}
	return true, nil
}

// mergeCustomer applies in to c and reports whether anything changed. Partner references are
// only added, never replaced: a reference that points elsewhere is a conflict the store refuses.
func mergeCustomer(c domain.Customer, in CustomerInput) (domain.Customer, bool) {
	changed := false
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	if c.EtvasUserID == "" {
		set(&c.EtvasUserID, in.EtvasUserID)
	}
	if c.AvataWallet == "" {
		set(&c.AvataWallet, strings.ToLower(in.AvataWallet))
	}
	if p := in.Profile; p != nil {
		if in.ReplaceProfile {
			if c.Profile != *p {
				c.Profile, changed = *p, true
			}
		} else {
			for _, f := range []struct {
				dst *string
				v   string
			}{
				{&c.Profile.Salutation, p.Salutation}, {&c.Profile.FirstName, p.FirstName},
				{&c.Profile.LastName, p.LastName}, {&c.Profile.Email, p.Email}, {&c.Profile.Phone, p.Phone},
				{&c.Profile.DateOfBirth, p.DateOfBirth}, {&c.Profile.Address1, p.Address1},
				{&c.Profile.Address2, p.Address2}, {&c.Profile.City, p.City}, {&c.Profile.Region, p.Region},
				{&c.Profile.Country, p.Country}, {&c.Profile.PostalCode, p.PostalCode},
				{&c.Profile.Street, p.Street}, {&c.Profile.HouseNumber, p.HouseNumber},
				{&c.Profile.HouseNumberSuffix, p.HouseNumberSuffix}, {&c.Profile.CountryCode, p.CountryCode},
			} {
				set(f.dst, f.v)
			}
		}
	}
	if id := in.Identity; id != nil {
		set(&c.IdentityVerification.Status, id.Status)
		set(&c.IdentityVerification.VerificationID, id.VerificationID)
	}
	return c, changed
}

// LinkAvataWallet records wallet (whose ownership the customer just proved by signing in with
// it) as the customer's Avata wallet and appends customer.updated. A customer that already has
// that wallet is returned unchanged; one with another wallet, or a wallet that belongs to another
// customer, is store.ErrConflict.
func (l *Lifecycle) LinkAvataWallet(ctx context.Context, tx store.Tx, c domain.Customer, wallet string, src Source) (domain.Customer, error) {
	wallet = strings.ToLower(wallet)
	switch {
	case c.AvataWallet == wallet:
		return c, nil
	case c.AvataWallet != "":
		return c, fmt.Errorf("lifecycle: customer %s has another Avata wallet: %w", c.ID, store.ErrConflict)
	}
	if other, err := tx.FindCustomerByAvataWallet(ctx, wallet); err == nil && other.ID != c.ID {
		return c, fmt.Errorf("lifecycle: the wallet belongs to another customer: %w", store.ErrConflict)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("lifecycle: link wallet: %w", err)
	}
	next := c
	next.AvataWallet = wallet
	updated, err := tx.UpdateCustomer(ctx, next, c.Version)
	if err != nil {
		return c, fmt.Errorf("lifecycle: link wallet to customer %s: %w", c.ID, err)
	}
	if err := l.appendCustomerEvent(ctx, tx, domain.EventCustomerUpdated, updated, src); err != nil {
		return c, err
	}
	return updated, nil
}

func (l *Lifecycle) appendCustomerEvent(ctx context.Context, tx store.Tx, typ string, c domain.Customer, src Source) error {
	return l.appendEvent(ctx, tx, typ, domain.SubjectCustomers+c.ID, c.ID, src, map[string]any{
		"customer_id":  c.ID,
		"pseudonym_id": c.PseudonymID,
		"status":       string(c.Status),
	})
}

// EraseCustomer erases the customer's personal data everywhere (store.EraseCustomer, which also
// clears claim reasons and document file names), the Etvas user id inside portal policy keys,
// and appends customer.erased. Erasing an erased customer
// again re-runs the erasure (it may have new deliveries) but appends no second event. The event
// keeps the reason as a code and the code's fixed description: never free text, which would
// itself be personal data about the person being erased.
func (l *Lifecycle) EraseCustomer(ctx context.Context, tx store.Tx, customerID string, reason domain.ErasureReason, src Source) (domain.Customer, error) {
	before, err := tx.GetCustomer(ctx, customerID)
	if err != nil {
		return domain.Customer{}, fmt.Errorf("lifecycle: erase customer %s: %w", customerID, err)
	}
	if err := l.forgetPortalKeys(ctx, tx, customerID); err != nil {
		return domain.Customer{}, err
	}
	c, err := tx.EraseCustomer(ctx, customerID, l.cfg.Now())
	if err != nil {
		return domain.Customer{}, fmt.Errorf("lifecycle: erase customer %s: %w", customerID, err)
	}
	if before.Status == domain.CustomerErased {
		return c, nil
	}
	err = l.appendEvent(ctx, tx, domain.EventCustomerErased, domain.SubjectCustomers+c.ID, c.ID, src, map[string]any{
		"customer_id":  c.ID,
		"pseudonym_id": c.PseudonymID,
		"reason_code":  string(reason.Known()),
		"reason":       reason.Description(),
	})
	return c, err
}

// PortalKeyPrefix starts the EtvasContextID of policies bought through Etvas's developer-portal
// events, which carry no purchase context: see PortalPolicyKey.
const PortalKeyPrefix = "portal:"

// PortalPolicyKey is the EtvasContextID of a policy bought through a developer-portal event:
// `portal:<Etvas user id>:<product id>`. Erasure rewrites it to `portal:erased:<policy id>`,
// since it names the person at Etvas.
func PortalPolicyKey(etvasUserID, productID string) string {
	return PortalKeyPrefix + etvasUserID + ":" + productID
}

// forgetPortalKeys rewrites the portal keys of the customer's policies (they hold the Etvas user
// id, a personal identifier the store's erasure cannot see inside the key).
func (l *Lifecycle) forgetPortalKeys(ctx context.Context, tx store.Tx, customerID string) error {
	page := store.PageRequest{Size: store.MaxPageSize}
	for {
		policies, err := tx.ListPolicies(ctx, store.PolicyFilter{CustomerID: customerID}, page)
		if err != nil {
			return fmt.Errorf("lifecycle: list policies of customer %s: %w", customerID, err)
		}
		for _, p := range policies.Items {
			erased := PortalKeyPrefix + "erased:" + p.ID
			if !strings.HasPrefix(p.EtvasContextID, PortalKeyPrefix) || p.EtvasContextID == erased {
				continue
			}
			p.EtvasContextID = erased
			if _, err := tx.UpdatePolicy(ctx, p, p.Version); err != nil {
				return fmt.Errorf("lifecycle: forget portal key of policy %s: %w", p.ID, err)
			}
		}
		if policies.Next == "" {
			return nil
		}
		page.After = policies.Next
	}
}

// CreatePolicy stores p and appends policy.created, plus policy.activated when p is created
// ACTIVE (policy.<status> for any status other than PENDING). A zero StatusTime becomes now.
func (l *Lifecycle) CreatePolicy(ctx context.Context, tx store.Tx, p domain.Policy, src Source) (domain.Policy, error) {
	if p.StatusTime.IsZero() {
		p.StatusTime = l.cfg.Now()
	}
	created, err := tx.CreatePolicy(ctx, p)
	if err != nil {
		return domain.Policy{}, fmt.Errorf("lifecycle: create policy: %w", err)
	}
	if err := l.appendPolicyEvent(ctx, tx, domain.EventPolicyCreated, created, "", "", src); err != nil {
		return domain.Policy{}, err
	}
	// A policy created in a later status (ACTIVE after a purchase; CANCELED or SUSPENDED when a
	// partner's status event arrives before its purchase) also gets that status's event, so
	// watchers of policy.activated & co. see every policy.
	if typ, ok := policyEventType(created.Status); ok {
		if err := l.appendPolicyEvent(ctx, tx, typ, created, "", "", src); err != nil {
			return domain.Policy{}, err
		}
	}
	return created, nil
}

// TransitionPolicy moves p to status `to` as of `at` (zero = now) following
// domain.ApplyPolicyStatus: an event older than the one that set the current status is
// StatusStale and changes nothing, the same status is StatusUnchanged (a newer one still moves
// StatusTime forward, without an event), an illegal move is a *domain.TransitionError. A change is written with p.Version as the expected version (a
// concurrent change → store.ErrConflict) and appends policy.<new status>.
func (l *Lifecycle) TransitionPolicy(ctx context.Context, tx store.Tx, p domain.Policy, to domain.PolicyStatus, at time.Time, reason string, src Source) (domain.Policy, domain.StatusChange, error) {
	if at.IsZero() {
		at = l.cfg.Now()
	}
	typ, ok := policyEventType(to)
	if !ok {
		return p, 0, &domain.TransitionError{Entity: "policy", From: string(p.Status), To: string(to)}
	}
	next := p
	change, err := domain.ApplyPolicyStatus(&next, to, at)
	if err != nil || change == domain.StatusStale {
		return p, change, err
	}
	if change == domain.StatusUnchanged {
		// A newer event confirming the current status still moves the status time forward:
		// otherwise an older event arriving after it (suspend at 20 after resume at 30 while
		// already ACTIVE since 0) would be taken as newer and undo it.
		if !at.After(p.StatusTime) {
			return p, change, nil
		}
		next.StatusTime = at
		updated, err := tx.UpdatePolicy(ctx, next, p.Version)
		if err != nil {
			return p, 0, fmt.Errorf("lifecycle: update policy %s: %w", p.ID, err)
		}
		return updated, change, nil
	}
	updated, err := tx.UpdatePolicy(ctx, next, p.Version)
	if err != nil {
		return p, 0, fmt.Errorf("lifecycle: update policy %s: %w", p.ID, err)
	}
	if err := l.appendPolicyEvent(ctx, tx, typ, updated, p.Status, reason, src); err != nil {
		return p, 0, err
	}
	return updated, domain.StatusChanged, nil
}

func policyEventType(s domain.PolicyStatus) (string, bool) {
	switch s {
	case domain.PolicyActive:
		return domain.EventPolicyActivated, true
	case domain.PolicySuspended:
		return domain.EventPolicySuspended, true
	case domain.PolicyCanceled:
		return domain.EventPolicyCanceled, true
	case domain.PolicyExpired:
		return domain.EventPolicyExpired, true
	case domain.PolicyRejected:
		return domain.EventPolicyRejected, true
	case domain.PolicyFailed:
		return domain.EventPolicyFailed, true
	}
	return "", false
}

func (l *Lifecycle) appendPolicyEvent(ctx context.Context, tx store.Tx, typ string, p domain.Policy, from domain.PolicyStatus, reason string, src Source) error {
	data := map[string]any{
		"policy_id":   p.ID,
		"status":      string(p.Status),
		"status_time": p.StatusTime.UTC().Format(time.RFC3339Nano),
		"kind":        string(p.Kind),
		"version":     p.Version,
	}
	putNonEmpty(data, "customer_id", p.CustomerID)
	putNonEmpty(data, "quote_id", p.QuoteID)
	putNonEmpty(data, "previous_status", string(from))
	putNonEmpty(data, "reason", reason)
	putNonEmpty(data, "etvas_product_id", p.EtvasProductID)
	putNonEmpty(data, "avata_policy_uuid", p.AvataPolicyUUID)
	if typ == domain.EventPolicyCreated && !p.Premium.IsZero() {
		data["premium"] = map[string]any{"amount": p.Premium.Amount, "currency": p.Premium.Currency}
	}
	return l.appendEvent(ctx, tx, typ, domain.SubjectPolicies+p.ID, p.CustomerID, src, data)
}

// CreateClaim stores c and appends claim.created (and queues a publication to ClaimRoute when
// one is configured). A zero StatusTime becomes now.
func (l *Lifecycle) CreateClaim(ctx context.Context, tx store.Tx, c domain.Claim, src Source) (domain.Claim, error) {
	if c.StatusTime.IsZero() {
		c.StatusTime = l.cfg.Now()
	}
	created, err := tx.CreateClaim(ctx, c)
	if err != nil {
		return domain.Claim{}, fmt.Errorf("lifecycle: create claim: %w", err)
	}
	if err := l.claimChanged(ctx, tx, domain.EventClaimCreated, created, "", src); err != nil {
		return domain.Claim{}, err
	}
	return created, nil
}

// TransitionClaim is TransitionPolicy for claims (domain.ApplyClaimStatus): a change appends
// claim.status_changed and, when ClaimRoute is set, queues its publication in the same
// transaction.
func (l *Lifecycle) TransitionClaim(ctx context.Context, tx store.Tx, c domain.Claim, to domain.ClaimStatus, at time.Time, src Source) (domain.Claim, domain.StatusChange, error) {
	if at.IsZero() {
		at = l.cfg.Now()
	}
	next := c
	change, err := domain.ApplyClaimStatus(&next, to, at)
	if err != nil || change == domain.StatusStale {
		return c, change, err
	}
	if change == domain.StatusUnchanged {
		if !at.After(c.StatusTime) {
			return c, change, nil
		}
		next.StatusTime = at // see TransitionPolicy
		updated, err := tx.UpdateClaim(ctx, next, c.Version)
		if err != nil {
			return c, 0, fmt.Errorf("lifecycle: update claim %s: %w", c.ID, err)
		}
		return updated, change, nil
	}
	updated, err := tx.UpdateClaim(ctx, next, c.Version)
	if err != nil {
		return c, 0, fmt.Errorf("lifecycle: update claim %s: %w", c.ID, err)
	}
	if err := l.claimChanged(ctx, tx, domain.EventClaimStatusChanged, updated, c.Status, src); err != nil {
		return c, 0, err
	}
	return updated, domain.StatusChanged, nil
}

// claimChanged appends the claim event, then (when ClaimRoute is configured) queues the claim
// route publication and its publication.queued event.
func (l *Lifecycle) claimChanged(ctx context.Context, tx store.Tx, typ string, c domain.Claim, from domain.ClaimStatus, src Source) error {
	data := map[string]any{
		"claim_id":    c.ID,
		"policy_id":   c.PolicyID,
		"status":      string(c.Status),
		"status_time": c.StatusTime.UTC().Format(time.RFC3339Nano),
		"version":     c.Version,
	}
	putNonEmpty(data, "customer_id", c.CustomerID)
	putNonEmpty(data, "previous_status", string(from))
	putNonEmpty(data, "avata_claim_uuid", c.AvataClaimUUID)
	putNonEmpty(data, "avata_claim_id", c.AvataClaimID)
	if err := l.appendEvent(ctx, tx, typ, domain.SubjectClaims+c.ID, c.CustomerID, src, data); err != nil {
		return err
	}
	if l.cfg.ClaimRoute == nil {
		return nil
	}
	pub, err := l.claimPublication(c)
	if err != nil {
		return err
	}
	_, err = l.queuePublication(ctx, tx, pub, src, map[string]any{"claim_id": c.ID})
	return err
}

// claimPublication is the Scalepoint event for a claim change, built like every publication
// by domain.ScalepointPublication.
func (l *Lifecycle) claimPublication(c domain.Claim) (domain.Publication, error) {
	claim, err := json.Marshal(map[string]any{
		"claimId":    c.ID,
		"policyId":   c.PolicyID,
		"status":     string(c.Status),
		"statusTime": c.StatusTime.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return domain.Publication{}, fmt.Errorf("lifecycle: encode claim publication: %w", err)
	}
	pub, err := domain.ScalepointPublication(domain.ScalepointEvent{
		Destination: *l.cfg.ClaimRoute, EventType: l.cfg.ClaimRouteEventType, Time: l.cfg.Now(),
		Fields: map[string]json.RawMessage{"claim": claim}, CustomerID: c.CustomerID,
	})
	if err != nil {
		return domain.Publication{}, fmt.Errorf("lifecycle: build publication of claim %s: %w", c.ID, err)
	}
	return pub, nil
}

// RecordUnrecognized appends partner_event.unrecognized for a delivery we stored but do not
// understand (subject deliveries/{deliveryID}). Counting it is the webhook layer's job
// (webhook.Observer), which knows whether the transaction committed.
func (l *Lifecycle) RecordUnrecognized(ctx context.Context, tx store.Tx, partner domain.Partner, eventType, deliveryID string) error {
	return l.appendEvent(ctx, tx, domain.EventPartnerEventUnrecognized, domain.SubjectDeliveries+deliveryID, "",
		Source{Partner: partner, Channel: ChannelWebhook, Ref: deliveryID},
		map[string]any{"event_type": eventType, "delivery_id": deliveryID})
}

func (l *Lifecycle) appendEvent(ctx context.Context, tx store.Tx, typ, subject, customerID string, src Source, data map[string]any) error {
	putNonEmpty(data, "source_channel", src.Channel)
	putNonEmpty(data, "source_ref", src.Ref)
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("lifecycle: encode %s event: %w", typ, err)
	}
	if _, err := tx.AppendEvent(ctx, domain.Event{
		Type: typ, Subject: subject, Partner: src.Partner, CustomerID: customerID, Data: b, Time: l.cfg.Now(),
	}); err != nil {
		return fmt.Errorf("lifecycle: append %s event: %w", typ, err)
	}
	return nil
}

func putNonEmpty(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// RecordKYC records on the customer that KYC data for policyID went to the carrier through
// provider (status is the encoded domain.KYCSubmission) and appends customer.updated.
func (l *Lifecycle) RecordKYC(ctx context.Context, tx store.Tx, customerID, provider, policyID, status string, src Source) (domain.Customer, error) {
	cur, err := tx.GetCustomer(ctx, customerID)
	if err != nil {
		return domain.Customer{}, fmt.Errorf("lifecycle: record kyc of customer %s: %w", customerID, err)
	}
	cur.KYCStatus, cur.KYCProvider = status, provider
	c, err := tx.UpdateCustomer(ctx, cur, cur.Version)
	if err != nil {
		return domain.Customer{}, fmt.Errorf("lifecycle: record kyc of customer %s: %w", customerID, err)
	}
	err = l.appendEvent(ctx, tx, domain.EventCustomerUpdated, domain.SubjectCustomers+c.ID, c.ID, src, map[string]any{
		"customer_id": c.ID, "pseudonym_id": c.PseudonymID, "status": string(c.Status),
		"change": "kyc_submitted", "kyc_provider": provider, "policy_id": policyID,
	})
	return c, err
}
