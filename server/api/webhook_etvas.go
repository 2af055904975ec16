package api

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/lifecycle/etvasrules"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// The Etvas webhook service maps the two Etvas event formats to the Etvas rules
// (server/lifecycle/etvasrules), which apply them through the lifecycle, and maps the outcome
// back to Etvas's documented answers:
//
//   - product events (purchase, cancel, suspend, resume): etvasrules.ApplyPortalProduct /
//     ApplyAppProduct. A purchase is formal: the 2xx answer is sent only after the policy is
//     committed. An App purchase does not wait for Etvas: the customer's profile is fetched
//     afterwards by a durable job (etvasrules.ProfileJob), woken here after the commit.
//   - user.create / user.update: the customer's profile (lifecycle.UpsertCustomer);
//     user.delete(d): etvasrules.EraseUser / EraseContext.
//   - anything else: recorded, acknowledged, logged as partner_event.unrecognized.
//
// Deduplication: a portal event by its type and event id; an App event, which has no id, by the
// hash of its canonical body (webhook.HashKey) — the same body sent again is a duplicate
// whatever the policy's state, so a captured body cannot suspend a policy twice.

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
	d     Deps
	rules *etvasrules.Rules
}

func newEtvasWebhooks(d Deps) webhooksv1.EtvasWebhookServiceServer {
	return &etvasWebhooks{d: d, rules: etvasrules.New(d.Lifecycle)}
}

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
	var product etvasrules.PortalProduct
	if isProductKind(kind) {
		if product, err = s.portalProduct(req, dlv.Raw, kind, at); err != nil {
			return nil, etvasError(err)
		}
	}
	resp := &webhooksv1.HandlePortalEventResponse{}
	res, err := webhook.Record(ctx, s.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		src := lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelWebhook, Ref: rec.ID}
		switch {
		case kind == etvas.EventUserCreated, kind == etvas.EventUserUpdated:
			return s.portalUser(ctx, tx, req, kind == etvas.EventUserUpdated, ack(), src)
		case kind == etvas.EventUserDeleted:
			resp := ack()
			resp.Data = &webhooksv1.EtvasAckData{User: &webhooksv1.EtvasPartnerRef{Id: req.GetUser().GetId()}}
			customerID, found, err := s.rules.EraseUser(ctx, tx, req.GetUser().GetId(), at, src)
			if err != nil || !found {
				return webhook.Outcome{State: domain.InboxIgnored, Error: "unknown Etvas user", Response: resp}, err
			}
			// Answered like user.update: data.user with our (pseudonymous) customer id.
			resp.Data.User.PartnerId = customerID
			return webhook.Outcome{State: domain.InboxProcessed, CustomerID: customerID, Response: resp, RedactStored: true}, nil
		case isProductKind(kind):
			out, err := s.rules.ApplyPortalProduct(ctx, tx, product, src)
			if err != nil {
				return webhook.Outcome{}, etvasError(err)
			}
			resp := ack()
			resp.User = &webhooksv1.EtvasPartnerRef{Id: product.UserID, PartnerId: out.CustomerID}
			resp.Data = &webhooksv1.EtvasAckData{Product: &webhooksv1.EtvasPartnerRef{Id: product.ProductID, PartnerId: out.Policy.ID}}
			return outcome(out, resp), nil
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

func isProductKind(k etvas.EventKind) bool {
	switch k {
	case etvas.EventPurchased, etvas.EventCanceled, etvas.EventSuspended, etvas.EventResumed:
		return true
	}
	return false
}

// outcome maps the rules' outcome to the inbox state.
func outcome(out etvasrules.Outcome, resp proto.Message) webhook.Outcome {
	o := webhook.Outcome{State: domain.InboxProcessed, CustomerID: out.CustomerID, Response: resp}
	if out.Note != "" {
		o.State, o.Error = domain.InboxIgnored, out.Note
	}
	return o
}

// portalProduct maps a portal product event to the rules' input.
func (s *etvasWebhooks) portalProduct(req *webhooksv1.HandlePortalEventRequest, raw []byte, kind etvas.EventKind, at time.Time) (etvasrules.PortalProduct, error) {
	userID, product := req.GetUser().GetId(), req.GetData().GetProduct()
	var missing []apierror.FieldViolation
	if userID == "" {
		missing = append(missing, apierror.FieldViolation{Field: "user.id", Description: "must be the Etvas user id", Reason: "required"})
	}
	if product.GetId() == "" {
		missing = append(missing, apierror.FieldViolation{Field: "data.product.id", Description: "must be the Etvas product id", Reason: "required"})
	}
	if len(missing) > 0 {
		return etvasrules.PortalProduct{}, apierror.Invalid(req.GetEvent().GetType()+" needs the user and the product", missing)
	}
	price, err := etvasrules.PortalPrice(raw, s.currency())
	if err != nil {
		return etvasrules.PortalProduct{}, err
	}
	return etvasrules.PortalProduct{
		Kind: kind, UserID: userID, ProductID: product.GetId(), PartnerID: product.GetPartnerId(), Name: product.GetName(),
		Price: price, Billing: etvasrules.Billing(product.GetPriceType(), product.GetPriceInterval()), At: at,
	}, nil
}

// etvasError maps the Etvas rules' errors to API errors.
func etvasError(err error) error {
	var invalid *etvasrules.InvalidFieldError
	switch {
	case errors.As(err, &invalid):
		return apierror.Invalid(invalid.Message, []apierror.FieldViolation{{Field: invalid.Field, Description: invalid.Description, Reason: invalid.Reason}})
	}
	return err
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

// HandleAppEvent applies an Etvas App event. Nothing here calls Etvas: a purchase is answered
// as soon as its policy is committed, and its profile is fetched by a job.
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
	in := webhook.Inbound{Delivery: dlv, DeliveryKey: "app:" + webhook.HashKey(dlv.Raw), EventType: req.GetName()}
	if kind == etvas.EventUserDeleted {
		in.StorePayload = []byte(domain.Redacted)
		in.Delivery.Headers = nil
	}
	queued := false
	resp := &webhooksv1.HandleAppEventResponse{}
	res, err := webhook.Record(ctx, s.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		src := lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelWebhook, Ref: rec.ID}
		ack := &webhooksv1.HandleAppEventResponse{Status: ackProcessed, DeliveryId: rec.ID}
		switch {
		case isProductKind(kind):
			out, err := s.rules.ApplyAppProduct(ctx, tx, etvasrules.AppProduct{
				Kind: kind, ContextID: contextID, ProductID: req.GetPayload().GetProductId(), At: at,
			}, src)
			if err != nil {
				return webhook.Outcome{}, etvasError(err)
			}
			queued = out.ProfileQueued
			ack.PolicyId = out.Policy.ID
			return outcome(out, ack), nil
		case kind == etvas.EventUserDeleted:
			customerID, found, err := s.rules.EraseContext(ctx, tx, contextID, at, src)
			if err != nil || !found {
				ack.Status = ackIgnored
				return webhook.Outcome{State: domain.InboxIgnored, Error: "unknown Etvas context", Response: ack}, err
			}
			return webhook.Outcome{State: domain.InboxProcessed, CustomerID: customerID, Response: ack, RedactStored: true}, nil
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
	if queued {
		s.d.Jobs.Notify() // committed: the profile job may start now
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
