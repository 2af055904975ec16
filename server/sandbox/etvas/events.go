package etvas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event formats.
const (
	FormatApp    = "app"    // Etvas App: POST /etvas/events {"name","payload"}
	FormatPortal = "portal" // developer portal: POST /etvas-events {"event","user","data"}
)

// maxRedirects is how many redirects Etvas follows when delivering an event (App
// document: "the platform will follow up to 5 redirects").
const maxRedirects = 5

// maxGatewayAnswer bounds how much of the gateway's answer is kept.
const maxGatewayAnswer = 1 << 20

// Event names of both documents, grouped by what they mean to the sandbox's purchase state.
// The alternative names are the ones the partner notes report from other Etvas sources.
var (
	purchaseEvents = map[string]bool{"product.purchased": true, "purchase.succeeded": true, "product.purchase": true}
	cancelEvents   = map[string]bool{"purchase.canceled": true, "product.canceled": true, "product.cancel": true}
	suspendEvents  = map[string]bool{"product.suspended": true, "purchase.suspended": true, "product.suspend": true}
	resumeEvents   = map[string]bool{"product.repurchased": true, "product.resumed": true, "purchase.resumed": true, "product.resume": true}
	// userEvents carry the user's profile in the portal format.
	userEvents = map[string]bool{"user.create": true, "user.update": true}
)

// IsPurchase reports whether name is a purchase event (product.purchased in the App
// format, product.purchase in the portal format, purchase.succeeded in some SDK versions):
// the event after which the partner fetches the buyer's profile, so the purchase context
// must exist first.
func IsPurchase(name string) bool { return purchaseEvents[normalName(name)] }

func normalName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Product describes the product of a portal product event. The zero value is the
// developer portal's example product (SicurNET, 123.45, SUBSCRIPTION, MONTHLY).
type Product struct {
	Name          string      `json:"name,omitempty"`
	Price         json.Number `json:"price,omitempty"`
	PriceType     string      `json:"priceType,omitempty"`
	PriceInterval string      `json:"priceInterval,omitempty"`
}

func (p Product) withDefaults() Product {
	if p.Name == "" {
		p.Name = "SicurNET"
	}
	if p.Price == "" {
		p.Price = "123.45"
	}
	if p.PriceType == "" {
		p.PriceType = "SUBSCRIPTION"
	}
	if p.PriceInterval == "" {
		p.PriceInterval = "MONTHLY"
	}
	return p
}

// EventRequest describes an event to deliver (the body of POST /_sandbox/events and what
// `covergate sandbox send etvas` builds).
type EventRequest struct {
	Format    string `json:"format,omitempty"` // app (default) | portal
	Name      string `json:"name"`
	ContextID string `json:"contextId"`
	ProductID string `json:"productId,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"` // ms; default now. Sent in the unit of the readings.
	// EventID is the event id: the portal's event.id, and the App event's id when the
	// readings send one. Default a new UUID; give one to re-send the same event.
	EventID string `json:"eventId,omitempty"`
	// Portal format only.
	UserID           string       `json:"userId,omitempty"`           // Etvas user id; default derived from contextId
	UserPartnerID    string       `json:"userPartnerId,omitempty"`    // default: what the partner answered to user.create
	ProductPartnerID string       `json:"productPartnerId,omitempty"` // default: what the partner answered to product.purchase
	Product          *Product     `json:"product,omitempty"`          // default the documented example product
	Profile          *Profile     `json:"profile,omitempty"`          // data.user of user.create/update; default the context's profile
	WebIdentity      *WebIdentity `json:"webIdentity,omitempty"`      // data.webIdentity of user.create/update; default verified
}

// WebIdentity is the identity verification a portal user event reports.
type WebIdentity struct {
	Status         string `json:"status"`
	VerificationID string `json:"verificationId"`
}

// Validate checks the request and fills defaults (format app, a product id, timestamp,
// event id).
func (e *EventRequest) Validate(now time.Time) error {
	e.Format = strings.ToLower(strings.TrimSpace(e.Format))
	if e.Format == "" {
		e.Format = FormatApp
	}
	if e.Format != FormatApp && e.Format != FormatPortal {
		return fmt.Errorf("format must be %q or %q", FormatApp, FormatPortal)
	}
	if strings.TrimSpace(e.Name) == "" {
		return errors.New("name is required")
	}
	if strings.TrimSpace(e.ContextID) == "" {
		return errors.New("contextId is required")
	}
	if e.ProductID == "" {
		e.ProductID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("etvas-sandbox-product")).String()
	}
	if e.Timestamp == 0 {
		e.Timestamp = now.UnixMilli()
	}
	if e.Timestamp < 0 {
		return errors.New("timestamp must not be negative")
	}
	if e.EventID == "" {
		e.EventID = uuid.NewString()
	}
	if e.UserID == "" {
		e.UserID = PortalUserID(e.ContextID)
	}
	return nil
}

// PortalUserID is the Etvas user id the sandbox gives the buyer of a purchase context in
// portal events (the portal format names users, not contexts).
func PortalUserID(contextID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("etvas-user:"+contextID)).String()
}

// Path returns the gateway path of the event's format.
func (e EventRequest) Path() string {
	if e.Format == FormatPortal {
		return PortalEventsPath
	}
	return AppEventsPath
}

// timestamp converts the request's millisecond time to the readings' unit (nil = absent).
func timestamp(ms int64, r Readings) *int64 {
	switch r.Timestamps {
	case TimestampsAbsent:
		return nil
	case TimestampsSeconds:
		s := ms / 1000
		return &s
	}
	return &ms
}

// portalExtras is what a portal event needs beyond the request: the user's token and the
// profile of the context (both come from the sandbox's state when it sends the event).
type portalExtras struct {
	token   string
	expires time.Time
	profile Profile
}

// Body builds the JSON body the platform would send, under the given readings. e must be
// validated.
func (e EventRequest) Body(r Readings) ([]byte, error) {
	return e.body(r, portalExtras{profile: defaultProfile})
}

func (e EventRequest) body(r Readings, x portalExtras) ([]byte, error) {
	r, err := r.Normalize()
	if err != nil {
		return nil, err
	}
	if e.Format == FormatPortal {
		return json.Marshal(e.portalBody(r, x))
	}
	ev := appEvent{Name: e.Name, Payload: appPayload{ProductID: e.ProductID}, Timestamp: timestamp(e.Timestamp, r)}
	if r.AppContextField == ContextFieldPurchaseID {
		ev.Payload.PurchaseID = e.ContextID
	} else {
		ev.Payload.ContextID = e.ContextID
	}
	if r.AppEventID == Present {
		ev.ID = e.EventID
	}
	return json.Marshal(ev)
}

func (e EventRequest) portalBody(r Readings, x portalExtras) portalEvent {
	ev := portalEvent{
		Event: portalEventHeader{ID: e.EventID, Type: e.Name, Timestamp: timestamp(e.Timestamp, r)},
		User:  portalUser{ID: e.UserID},
	}
	if e.UserPartnerID != "" {
		id := e.UserPartnerID
		ev.User.PartnerID = &id
	}
	if x.token != "" {
		ev.User.Auth = &portalAuth{Token: x.token, Expires: x.expires.Unix()}
	}
	name := normalName(e.Name)
	switch {
	case userEvents[name]:
		p := x.profile
		if e.Profile != nil {
			p = *e.Profile
		}
		ev.Data.User = &portalProfile{
			Salutation: p.Salutation, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.PhoneNumber,
			DateOfBirth: p.DateOfBirth, Address1: p.Address1, Address2: p.Address2, City: p.City, RegionState: p.RegionState,
			Country: p.Country, PostalCode: p.PostalCode,
		}
		wi := WebIdentity{Status: "verified", VerificationID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("etvas-identity:"+e.UserID)).String()}
		if e.WebIdentity != nil {
			wi = *e.WebIdentity
		}
		ev.Data.WebIdentity = &webIdentity{Status: wi.Status, VerificationID: wi.VerificationID}
	case purchaseEvents[name] || cancelEvents[name] || suspendEvents[name] || resumeEvents[name]:
		var prod Product
		if e.Product != nil {
			prod = *e.Product
		}
		prod = prod.withDefaults()
		ev.Data.Product = &portalProduct{
			ID: e.ProductID, Name: prod.Name, Price: prod.Price, PriceType: prod.PriceType, PriceInterval: prod.PriceInterval,
		}
		if !purchaseEvents[name] {
			ev.Data.Product.PartnerID = e.ProductPartnerID
		}
	}
	// user.delete and unknown types: the document's example is cut off at "User Deleted",
	// so they carry the event and the user only, with an empty data object.
	return ev
}

// Outgoing is an event ready to send: path on the gateway, exact body, headers.
type Outgoing struct {
	Path   string
	Body   []byte
	Header http.Header
}

// SignedEvent builds the documented body of ev (validated) under readings r and the
// headers Etvas sends with it: Content-Type and Accept application/json, x-api-key (App
// events always; portal events per r.PortalAPIKey) and x-etvas-signature over the raw body.
func SignedEvent(ev EventRequest, r Readings, apiKey string, eventSecret []byte) (Outgoing, error) {
	return signedEvent(ev, r, apiKey, eventSecret, portalExtras{profile: defaultProfile})
}

func signedEvent(ev EventRequest, r Readings, apiKey string, eventSecret []byte, x portalExtras) (Outgoing, error) {
	r, err := r.Normalize()
	if err != nil {
		return Outgoing{}, err
	}
	body, err := ev.body(r, x)
	if err != nil {
		return Outgoing{}, fmt.Errorf("etvas sandbox: build event: %w", err)
	}
	return Sign(ev.Path(), body, ev.Format == FormatApp || r.PortalAPIKey == Present, apiKey, eventSecret), nil
}

// Sign wraps any body (a documented example verbatim, for instance) as an event Etvas
// would send to path, with x-api-key when withAPIKey is set.
func Sign(path string, body []byte, withAPIKey bool, apiKey string, eventSecret []byte) Outgoing {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	if withAPIKey {
		h.Set(headerAPIKey, apiKey)
	}
	h.Set(headerWebhookSignature, SignEvent(eventSecret, body))
	return Outgoing{Path: path, Body: body, Header: h}
}

// Delivery is the gateway's answer to an event.
type Delivery struct {
	Status      int
	ContentType string
	Body        []byte
	Sent        []byte // the exact body that was signed and sent
}

// NewDeliveryClient returns the client used to deliver events: 10 s per delivery and at
// most 5 redirects, as the platform does.
func NewDeliveryClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
}

// Deliver builds, signs and POSTs ev (validated) to gatewayURL under the default readings.
func Deliver(ctx context.Context, hc *http.Client, gatewayURL string, ev EventRequest, apiKey string, eventSecret []byte) (Delivery, error) {
	out, err := SignedEvent(ev, DefaultReadings(), apiKey, eventSecret)
	if err != nil {
		return Delivery{}, err
	}
	return Send(ctx, hc, gatewayURL, out)
}

// Send POSTs an outgoing event to gatewayURL and returns the gateway's answer.
func Send(ctx context.Context, hc *http.Client, gatewayURL string, out Outgoing) (Delivery, error) {
	base, err := url.Parse(gatewayURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Delivery{}, fmt.Errorf("etvas sandbox: gateway URL %q is not an http(s) URL", gatewayURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(out.Path).String(), bytes.NewReader(out.Body))
	if err != nil {
		return Delivery{}, fmt.Errorf("etvas sandbox: build request: %w", err)
	}
	req.Header = out.Header.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		return Delivery{Sent: out.Body}, fmt.Errorf("etvas sandbox: deliver to %s: %w", out.Path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayAnswer))
	if err != nil {
		return Delivery{Sent: out.Body}, fmt.Errorf("etvas sandbox: read gateway answer: %w", err)
	}
	return Delivery{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: answer, Sent: out.Body}, nil
}
