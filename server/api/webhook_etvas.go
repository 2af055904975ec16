package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// Etvas events, in both formats, become changes to customers and policies:
//
//   - purchase (product.purchase, product.purchased, purchase.succeeded): customer created or
//     updated, policy ACTIVE (Partner etvas, Kind ETVAS_PRODUCT). Formal: the 2xx answer is sent
//     only after the policy is committed; a purchase that cannot be applied gets a non-2xx.
//   - cancel → CANCELED, suspend → SUSPENDED, resume/repurchased → ACTIVE, ordered by the event
//     timestamp (an event older than the one that set the current status changes nothing). An
//     event for a purchase we have not seen yet creates the policy in that status, so a purchase
//     delivered late (older) cannot undo it.
//   - user.create / user.update: the customer's profile; user.delete(d): the customer's Etvas
//     policies are canceled and the customer is erased everywhere.
//   - anything else: recorded, acknowledged, logged as partner_event.unrecognized.
//
// Policy keys: the App format's contextId; the portal format has none, so its policies are keyed
// `portal:<Etvas user id>:<product id>` (PortalPolicyKey).

// Answers of the App format and the Avata/Scalepoint services (`status`).
const (
	ackProcessed = "processed"
	ackDuplicate = "duplicate"
	ackIgnored   = "ignored"
)

// defaultEtvasCurrency is used when Settings.EtvasCurrency is empty: Etvas prices carry no
// currency.
const defaultEtvasCurrency = "EUR"

// PortalPolicyKey is the EtvasContextID of a policy bought through a developer-portal event
// (lifecycle.PortalPolicyKey).
func PortalPolicyKey(etvasUserID, productID string) string {
	return lifecycle.PortalPolicyKey(etvasUserID, productID)
}

type etvasWebhooks struct {
	webhooksv1.UnimplementedEtvasWebhookServiceServer
	d Deps
}

func newEtvasWebhooks(d Deps) webhooksv1.EtvasWebhookServiceServer { return &etvasWebhooks{d: d} }

func (s *etvasWebhooks) currency() string {
	if c := s.d.Settings.EtvasCurrency; c != "" {
		return c
	}
	return defaultEtvasCurrency
}

// HandlePortalEvent applies a developer-portal event and answers with Etvas's documented echo.
func (s *etvasWebhooks) HandlePortalEvent(ctx context.Context, req *webhooksv1.HandlePortalEventRequest) (*webhooksv1.HandlePortalEventResponse, error) {
	dlv, err := delivery(ctx)
	if err != nil {
		return nil, err
	}
	ev := req.GetEvent()
	kind := etvas.ClassifyEvent(ev.GetType())
	at := webhook.EventTime(ev.GetTimestamp(), dlv.ReceiveTime)
	in := webhook.Inbound{
		Delivery: dlv,
		// The type is part of the key: the documented examples reuse one event id across types.
		DeliveryKey: "portal:" + ev.GetType() + ":" + ev.GetId(),
		EventType:   ev.GetType(),
	}
	if kind == etvas.EventUserDeleted {
		in.StorePayload = []byte(domain.Redacted)
		in.Delivery.Headers = nil
	}
	ack := func() *webhooksv1.HandlePortalEventResponse {
		return &webhooksv1.HandlePortalEventResponse{Status: 200, Event: &webhooksv1.EtvasEventAck{Id: ev.GetId()}}
	}
	resp := &webhooksv1.HandlePortalEventResponse{}
	res, err := webhook.Record(ctx, s.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		src := lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelWebhook, Ref: rec.ID}
		switch kind {
		case etvas.EventUserCreated, etvas.EventUserUpdated:
			return s.portalUser(ctx, tx, req, kind == etvas.EventUserUpdated, ack(), src)
		case etvas.EventUserDeleted:
			return s.portalUserDeleted(ctx, tx, req, at, ack(), src)
		case etvas.EventPurchased, etvas.EventCanceled, etvas.EventSuspended, etvas.EventResumed:
			return s.portalProduct(ctx, tx, req, dlv.Raw, kind, at, ack(), src)
		}
		return s.unrecognized(ctx, tx, ev.GetType(), rec, ack())
	})
	if err != nil {
		return nil, webhookError(err)
	}
	if res.Duplicate && resp.GetStatus() == 0 {
		// The stored answer was redacted (a deletion, or its customer was erased since).
		resp = ack()
		if kind == etvas.EventUserDeleted {
			resp.Data = &webhooksv1.EtvasAckData{User: &webhooksv1.EtvasPartnerRef{Id: req.GetUser().GetId(), PartnerId: res.Record.CustomerID}}
		}
	}
	return resp, nil
}

func (s *etvasWebhooks) unrecognized(ctx context.Context, tx store.Tx, eventType string, rec domain.InboxRecord, resp proto.Message) (webhook.Outcome, error) {
	if err := s.d.Lifecycle.RecordUnrecognized(ctx, tx, domain.PartnerEtvas, eventType, rec.ID); err != nil {
		return webhook.Outcome{}, err
	}
	logUnrecognized(ctx, s.d, domain.PartnerEtvas, eventType, rec.ID)
	return webhook.Outcome{State: domain.InboxIgnored, Error: "unrecognized event type", Response: resp, Unrecognized: true}, nil
}

func (s *etvasWebhooks) portalUser(ctx context.Context, tx store.Tx, req *webhooksv1.HandlePortalEventRequest, replace bool, resp *webhooksv1.HandlePortalEventResponse, src lifecycle.Source) (webhook.Outcome, error) {
	userID := req.GetUser().GetId()
	if userID == "" {
		return webhook.Outcome{}, apierror.Invalid("user.id is required for "+req.GetEvent().GetType(),
			[]apierror.FieldViolation{{Field: "user.id", Description: "must be the Etvas user id", Reason: "required"}})
	}
	in := lifecycle.CustomerInput{EtvasUserID: userID, ReplaceProfile: replace}
	if u := req.GetData().GetUser(); u != nil {
		in.Profile = &domain.Profile{
			Salutation: u.GetSalutation(), FirstName: u.GetFirstName(), LastName: u.GetLastName(),
			Email: u.GetEmail(), Phone: u.GetPhone(), DateOfBirth: u.GetDateOfBirth(),
			Address1: u.GetAddress1(), Address2: u.GetAddress2(), City: u.GetCity(), Region: u.GetRegionState(),
			Country: u.GetCountry(), PostalCode: u.GetPostalCode(),
		}
	}
	if wi := req.GetData().GetWebIdentity(); wi != nil {
		in.Identity = &domain.IdentityVerification{Status: wi.GetStatus(), VerificationID: wi.GetVerificationId()}
	}
	c, _, err := s.d.Lifecycle.UpsertCustomer(ctx, tx, in, src)
	if err != nil {
		return webhook.Outcome{}, err
	}
	resp.Data = &webhooksv1.EtvasAckData{User: &webhooksv1.EtvasPartnerRef{Id: userID, PartnerId: c.ID}}
	return webhook.Outcome{State: domain.InboxProcessed, CustomerID: c.ID, Response: resp}, nil
}

// portalUserDeleted answers like user.update: data.user with our (pseudonymous) customer id.
func (s *etvasWebhooks) portalUserDeleted(ctx context.Context, tx store.Tx, req *webhooksv1.HandlePortalEventRequest, at time.Time, resp *webhooksv1.HandlePortalEventResponse, src lifecycle.Source) (webhook.Outcome, error) {
	userID := req.GetUser().GetId()
	resp.Data = &webhooksv1.EtvasAckData{User: &webhooksv1.EtvasPartnerRef{Id: userID}}
	c, err := s.d.Lifecycle.FindCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: userID})
	if errors.Is(err, store.ErrNotFound) || userID == "" {
		return webhook.Outcome{State: domain.InboxIgnored, Error: "unknown Etvas user", Response: resp}, nil
	}
	if err != nil {
		return webhook.Outcome{}, err
	}
	if err := eraseEtvasCustomer(ctx, s.d.Lifecycle, tx, c.ID, at, src); err != nil {
		return webhook.Outcome{}, err
	}
	resp.Data.User.PartnerId = c.ID
	return webhook.Outcome{State: domain.InboxProcessed, CustomerID: c.ID, Response: resp, RedactStored: true}, nil
}

// eraseEtvasCustomer cancels the customer's running Etvas policies (a deleted account must not
// keep using the product) and erases the customer.
func eraseEtvasCustomer(ctx context.Context, lc *lifecycle.Lifecycle, tx store.Tx, customerID string, at time.Time, src lifecycle.Source) error {
	page := store.PageRequest{Size: store.MaxPageSize}
	for {
		policies, err := tx.ListPolicies(ctx, store.PolicyFilter{CustomerID: customerID, Partner: domain.PartnerEtvas}, page)
		if err != nil {
			return fmt.Errorf("api: list policies of customer %s: %w", customerID, err)
		}
		for _, p := range policies.Items {
			if p.Status != domain.PolicyActive && p.Status != domain.PolicySuspended {
				continue
			}
			if _, _, err := lc.TransitionPolicy(ctx, tx, p, domain.PolicyCanceled, at, "user deleted", src); err != nil && !errors.Is(err, domain.ErrIllegalTransition) {
				return err
			}
		}
		if policies.Next == "" {
			break
		}
		page.After = policies.Next
	}
	_, err := lc.EraseCustomer(ctx, tx, customerID, domain.ErasurePartnerDeletion, src)
	return err
}

func (s *etvasWebhooks) portalProduct(ctx context.Context, tx store.Tx, req *webhooksv1.HandlePortalEventRequest, raw []byte, kind etvas.EventKind, at time.Time, resp *webhooksv1.HandlePortalEventResponse, src lifecycle.Source) (webhook.Outcome, error) {
	userID, product := req.GetUser().GetId(), req.GetData().GetProduct()
	var missing []apierror.FieldViolation
	if userID == "" {
		missing = append(missing, apierror.FieldViolation{Field: "user.id", Description: "must be the Etvas user id", Reason: "required"})
	}
	if product.GetId() == "" {
		missing = append(missing, apierror.FieldViolation{Field: "data.product.id", Description: "must be the Etvas product id", Reason: "required"})
	}
	if len(missing) > 0 {
		return webhook.Outcome{}, apierror.Invalid(req.GetEvent().GetType()+" needs the user and the product", missing)
	}
	premium, err := s.portalPrice(raw)
	if err != nil {
		return webhook.Outcome{}, err
	}
	c, _, err := s.d.Lifecycle.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: userID}, src)
	if err != nil {
		return webhook.Outcome{}, err
	}
	key := PortalPolicyKey(userID, product.GetId())
	existing, found, err := findPortalPolicy(ctx, tx, product.GetPartnerId(), product.GetId(), key)
	if err != nil {
		return webhook.Outcome{}, err
	}
	template := domain.Policy{
		CustomerID: c.ID, Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, ProductName: product.GetName(),
		Premium: premium, Billing: etvasBilling(product.GetPriceType(), product.GetPriceInterval()),
		EtvasContextID: key, EtvasProductID: product.GetId(), EtvasUserID: userID,
	}
	p, note, err := applyEtvasStatus(ctx, s.d.Lifecycle, tx, existing, found, template, kind, at, src)
	if err != nil {
		return webhook.Outcome{}, err
	}
	resp.User = &webhooksv1.EtvasPartnerRef{Id: userID, PartnerId: c.ID}
	resp.Data = &webhooksv1.EtvasAckData{Product: &webhooksv1.EtvasPartnerRef{Id: product.GetId(), PartnerId: p.ID}}
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: c.ID, Response: resp}
	if note != "" {
		out.State, out.Error = domain.InboxIgnored, note
	}
	return out, nil
}

// findPortalPolicy finds the policy of a portal product event: by our policy id when Etvas echoes
// it back as partnerId (and it is the same Etvas product), else by the portal key.
func findPortalPolicy(ctx context.Context, tx store.Tx, partnerID, productID, key string) (domain.Policy, bool, error) {
	if domain.ValidID(partnerID) {
		p, err := tx.GetPolicy(ctx, partnerID)
		switch {
		case err == nil && p.Partner == domain.PartnerEtvas && p.EtvasProductID == productID:
			return p, true, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return domain.Policy{}, false, fmt.Errorf("api: get policy %s: %w", partnerID, err)
		}
	}
	return findPolicyByContext(ctx, tx, key)
}

func findPolicyByContext(ctx context.Context, tx store.PolicyReader, contextID string) (domain.Policy, bool, error) {
	p, err := tx.FindPolicyByEtvasContextID(ctx, contextID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return domain.Policy{}, false, nil
	case err != nil:
		return domain.Policy{}, false, fmt.Errorf("api: find policy by Etvas context: %w", err)
	}
	return p, true, nil
}

// etvasTarget is the policy status an Etvas event kind asks for.
func etvasTarget(kind etvas.EventKind) domain.PolicyStatus {
	switch kind {
	case etvas.EventCanceled:
		return domain.PolicyCanceled
	case etvas.EventSuspended:
		return domain.PolicySuspended
	}
	return domain.PolicyActive // purchased, resumed
}

// applyEtvasStatus applies a purchase/cancel/suspend/resume to the policy (creating it from
// template when absent). note is set when the event was recorded but changed nothing because it
// cannot apply (an illegal transition of an informal event). A formal purchase that cannot make
// the policy ACTIVE is an error: Etvas must not believe the customer is covered.
func applyEtvasStatus(ctx context.Context, lc *lifecycle.Lifecycle, tx store.Tx, existing domain.Policy, found bool, template domain.Policy, kind etvas.EventKind, at time.Time, src lifecycle.Source) (domain.Policy, string, error) {
	to := etvasTarget(kind)
	if !found {
		template.Status, template.StatusTime, template.StartTime = to, at, at
		p, err := lc.CreatePolicy(ctx, tx, template, src)
		return p, "", err
	}
	p := existing
	if filled, changed := fillPolicy(p, template); changed {
		var err error
		if p, err = tx.UpdatePolicy(ctx, filled, p.Version); err != nil {
			return domain.Policy{}, "", fmt.Errorf("api: complete policy %s: %w", p.ID, err)
		}
	}
	reason := "etvas " + string(kind)
	updated, _, err := lc.TransitionPolicy(ctx, tx, p, to, at, reason, src)
	var terr *domain.TransitionError
	switch {
	case errors.As(err, &terr) && kind.IsFormal():
		return domain.Policy{}, "", apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			fmt.Sprintf("the purchase cannot be applied: policy %s is %s", p.ID, p.Status), "policy_id", p.ID, "status", string(p.Status))
	case errors.As(err, &terr):
		return p, terr.Error(), nil
	case err != nil:
		return domain.Policy{}, "", err
	}
	return updated, "", nil
}

// fillPolicy completes a policy created by an early status event with what the purchase tells
// (customer, product, price); it never overwrites a value already set.
func fillPolicy(p, from domain.Policy) (domain.Policy, bool) {
	changed := false
	set := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst, changed = v, true
		}
	}
	set(&p.CustomerID, from.CustomerID)
	set(&p.ProductName, from.ProductName)
	set(&p.EtvasProductID, from.EtvasProductID)
	set(&p.EtvasUserID, from.EtvasUserID)
	set(&p.Billing.PriceType, from.Billing.PriceType)
	set(&p.Billing.PriceInterval, from.Billing.PriceInterval)
	if p.Premium.IsZero() && !from.Premium.IsZero() {
		p.Premium, changed = from.Premium, true
	}
	return p, changed
}

// portalPrice reads data.product.price from the raw body as an exact decimal (the decoded
// request holds it as a float). No price → zero premium.
func (s *etvasWebhooks) portalPrice(raw []byte) (domain.Money, error) {
	var body struct {
		Data struct {
			Product struct {
				Price json.RawMessage `json:"price"`
			} `json:"product"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return domain.Money{}, apierror.New(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST, "the body is not valid JSON")
	}
	price := strings.TrimSpace(string(body.Data.Product.Price))
	if price == "" || price == "null" {
		return domain.Money{}, nil
	}
	amount, err := domain.DecimalFromFloatLiteral(json.Number(strings.Trim(price, `"`)))
	if err == nil && strings.HasPrefix(amount, "-") {
		err = errors.New("negative")
	}
	if err != nil {
		return domain.Money{}, apierror.Invalid("data.product.price is not a valid price",
			[]apierror.FieldViolation{{Field: "data.product.price", Description: "must be a non-negative decimal number", Reason: "decimal"}})
	}
	return domain.Money{Amount: amount, Currency: s.currency()}, nil
}

// etvasBilling maps Etvas's priceType/priceInterval to our billing terms; unknown values are kept
// in lower case.
func etvasBilling(priceType, interval string) domain.Billing {
	types := map[string]string{"SUBSCRIPTION": "recurring", "ONE_TIME": "one-time", "ONETIME": "one-time"}
	intervals := map[string]string{
		"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "QUARTERLY": "quarter", "YEARLY": "year", "ANNUALLY": "year",
	}
	pick := func(m map[string]string, v string) string {
		if mapped, ok := m[strings.ToUpper(strings.TrimSpace(v))]; ok {
			return mapped
		}
		return strings.ToLower(strings.TrimSpace(v))
	}
	return domain.Billing{PriceType: pick(types, priceType), PriceInterval: pick(intervals, interval)}
}

// HandleAppEvent applies an Etvas App event.
func (s *etvasWebhooks) HandleAppEvent(ctx context.Context, req *webhooksv1.HandleAppEventRequest) (*webhooksv1.HandleAppEventResponse, error) {
	dlv, err := delivery(ctx)
	if err != nil {
		return nil, err
	}
	kind := etvas.ClassifyEvent(req.GetName())
	contextID := req.GetPayload().GetContextId()
	if contextID == "" {
		contextID = req.GetPayload().GetPurchaseId()
	}
	at := webhook.EventTime(req.GetTimestamp(), dlv.ReceiveTime)
	key, err := s.appKey(ctx, dlv.Raw, req.GetTimestamp(), kind, contextID)
	if err != nil {
		return nil, webhookError(err)
	}
	in := webhook.Inbound{Delivery: dlv, DeliveryKey: key, EventType: req.GetName()}
	if kind == etvas.EventUserDeleted {
		in.StorePayload = []byte(domain.Redacted)
		in.Delivery.Headers = nil
	}
	resp := &webhooksv1.HandleAppEventResponse{}
	var profile *domain.Profile
	if kind == etvas.EventPurchased {
		// A retried purchase is answered from the inbox without asking Etvas again.
		if rec, seen, err := webhook.Seen(ctx, s.d.Store, domain.PartnerEtvas, key); err != nil {
			return nil, webhookError(err)
		} else if seen {
			webhook.Report(ctx, req.GetName(), webhook.OutcomeDuplicate)
			return appDuplicate(rec, resp)
		}
		// Partner call before the transaction: InTx may run its function more than once.
		pr, err := s.d.Etvas.UserProfile(ctx, contextID, true)
		if err != nil {
			return nil, err
		}
		profile = &domain.Profile{
			FirstName: pr.FirstName, LastName: pr.LastName, Email: pr.Email, Phone: pr.PhoneNumber,
			Address1: pr.Address1, Address2: pr.Address2, City: pr.City, Region: pr.RegionState,
			Country: pr.Country, PostalCode: pr.PostalCode,
		}
	}
	res, err := webhook.Record(ctx, s.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		src := lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelWebhook, Ref: rec.ID}
		ack := &webhooksv1.HandleAppEventResponse{Status: ackProcessed, DeliveryId: rec.ID}
		switch kind {
		case etvas.EventPurchased, etvas.EventCanceled, etvas.EventSuspended, etvas.EventResumed:
			return s.appPurchase(ctx, tx, req, contextID, profile, kind, at, ack, src)
		case etvas.EventUserDeleted:
			return s.appUserDeleted(ctx, tx, contextID, at, ack, src)
		}
		ack.Status = ackIgnored
		return s.unrecognized(ctx, tx, req.GetName(), rec, ack)
	})
	if err != nil {
		return nil, webhookError(err)
	}
	if res.Duplicate {
		return appDuplicate(res.Record, resp)
	}
	return resp, nil
}

// appDuplicate answers a delivery seen before: its first answer, with status "duplicate".
func appDuplicate(rec domain.InboxRecord, resp *webhooksv1.HandleAppEventResponse) (*webhooksv1.HandleAppEventResponse, error) {
	if err := webhook.Replay(rec, resp); err != nil {
		return nil, webhookError(err)
	}
	resp.Status, resp.DeliveryId = ackDuplicate, rec.ID
	return resp, nil
}

// appKey is the deduplication key of an App event, which has no event id: the hash of its
// canonical body. Without a timestamp, a suspend → resume → suspend sequence would repeat a body
// exactly, so the key of a status event also names the policy version it was applied to: a
// re-delivery against the same state is a duplicate, the same event after a change is new.
func (s *etvasWebhooks) appKey(ctx context.Context, raw []byte, ts int64, kind etvas.EventKind, contextID string) (string, error) {
	key := "app:" + webhook.HashKey(raw)
	if ts > 0 || (kind != etvas.EventCanceled && kind != etvas.EventSuspended && kind != etvas.EventResumed) {
		return key, nil
	}
	p, found, err := findPolicyByContext(ctx, s.d.Store, contextID)
	if err != nil {
		return "", err
	}
	if !found {
		return key + ":v0", nil
	}
	return fmt.Sprintf("%s:v%d", key, p.Version), nil
}

func (s *etvasWebhooks) appPurchase(ctx context.Context, tx store.Tx, req *webhooksv1.HandleAppEventRequest, contextID string, profile *domain.Profile, kind etvas.EventKind, at time.Time, resp *webhooksv1.HandleAppEventResponse, src lifecycle.Source) (webhook.Outcome, error) {
	var customerID string
	if profile != nil {
		c, _, err := s.d.Lifecycle.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: contextID, Profile: profile}, src)
		if err != nil {
			return webhook.Outcome{}, err
		}
		customerID = c.ID
	} else if c, err := s.d.Lifecycle.FindCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: contextID}); err == nil {
		customerID = c.ID
	} else if !errors.Is(err, store.ErrNotFound) {
		return webhook.Outcome{}, err
	}
	existing, found, err := findPolicyByContext(ctx, tx, contextID)
	if err != nil {
		return webhook.Outcome{}, err
	}
	template := domain.Policy{
		CustomerID: customerID, Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct,
		EtvasContextID: contextID, EtvasProductID: req.GetPayload().GetProductId(),
	}
	p, note, err := applyEtvasStatus(ctx, s.d.Lifecycle, tx, existing, found, template, kind, at, src)
	if err != nil {
		return webhook.Outcome{}, err
	}
	resp.PolicyId = p.ID
	out := webhook.Outcome{State: domain.InboxProcessed, CustomerID: p.CustomerID, Response: resp}
	if note != "" {
		out.State, out.Error = domain.InboxIgnored, note
	}
	return out, nil
}

func (s *etvasWebhooks) appUserDeleted(ctx context.Context, tx store.Tx, contextID string, at time.Time, resp *webhooksv1.HandleAppEventResponse, src lifecycle.Source) (webhook.Outcome, error) {
	c, err := s.d.Lifecycle.FindCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: contextID})
	if errors.Is(err, store.ErrNotFound) {
		// The customer may only be known through the policy of this context.
		p, found, perr := findPolicyByContext(ctx, tx, contextID)
		if perr != nil {
			return webhook.Outcome{}, perr
		}
		if !found || p.CustomerID == "" {
			resp.Status = ackIgnored
			return webhook.Outcome{State: domain.InboxIgnored, Error: "unknown Etvas context", Response: resp}, nil
		}
		if c, err = tx.GetCustomer(ctx, p.CustomerID); err != nil {
			return webhook.Outcome{}, fmt.Errorf("api: get customer %s: %w", p.CustomerID, err)
		}
	} else if err != nil {
		return webhook.Outcome{}, err
	}
	if err := eraseEtvasCustomer(ctx, s.d.Lifecycle, tx, c.ID, at, src); err != nil {
		return webhook.Outcome{}, err
	}
	return webhook.Outcome{State: domain.InboxProcessed, CustomerID: c.ID, Response: resp, RedactStored: true}, nil
}

// The helpers below are shared by the three webhook services.

// delivery returns the verified delivery of the call; Guard guarantees it, so its absence is a
// wiring fault, answered as unauthenticated rather than trusted.
func delivery(ctx context.Context) (webhook.Delivery, error) {
	d, ok := webhook.DeliveryFrom(ctx)
	if !ok {
		return webhook.Delivery{}, apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
			"partner webhooks are accepted only on their HTTP routes")
	}
	return d, nil
}

// webhookError maps a processing failure to the answer the partner gets. Nothing was recorded,
// so every non-2xx invites a retry: statuses (partner errors, validation) pass through; a
// concurrent change is UNAVAILABLE (retry soon); anything else is INTERNAL.
func webhookError(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return apierror.New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
			"a concurrent change to the same record: retry the delivery")
	case errors.Is(err, store.ErrNotFound) && !isStatus(err):
		return apierror.New(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND,
			"the record this event refers to does not exist (yet): retry later")
	}
	return err
}

func logUnrecognized(ctx context.Context, d Deps, partner domain.Partner, eventType, deliveryID string) {
	if d.Logger != nil {
		d.Logger.WarnContext(ctx, "unrecognized partner event recorded",
			"partner", string(partner), "event_type", eventType, "delivery_id", deliveryID)
	}
}
