package etvas

import (
	"encoding/json"
	"strings"
)

// Webhook paths on the gateway for the two Etvas event formats.
const (
	AppEventsPath    = "/etvas/events" // Etvas App format {"name","payload","timestamp"}
	PortalEventsPath = "/etvas-events" // developer-portal format {"event","user","data"}
)

// AppEvent is the Etvas App event body. Payload keeps unknown fields so nothing the
// partner sends is lost when the gateway stores the event.
type AppEvent struct {
	// ID is the event id some Etvas versions send at the top level; the App document's
	// bodies have none.
	ID        string                     `json:"id,omitempty"`
	Name      string                     `json:"name"`
	Payload   AppEventPayload            `json:"payload"`
	Timestamp int64                      `json:"timestamp,omitempty"` // milliseconds
	Metadata  map[string]json.RawMessage `json:"metadata,omitempty"`
	Profile   map[string]json.RawMessage `json:"profile,omitempty"` // user.deleted may carry it
}

// AppEventPayload identifies the purchase. Some versions send purchaseId instead of
// contextId; PurchaseContext returns whichever is present.
type AppEventPayload struct {
	ProductID  string `json:"productId,omitempty"`
	ContextID  string `json:"contextId,omitempty"`
	PurchaseID string `json:"purchaseId,omitempty"`
}

// PurchaseContext returns the context (purchase) id of the event.
func (p AppEventPayload) PurchaseContext() string {
	if p.ContextID != "" {
		return p.ContextID
	}
	return p.PurchaseID
}

// PortalEvent is the developer-portal event body.
type PortalEvent struct {
	Event PortalEventHeader          `json:"event"`
	User  PortalUser                 `json:"user"`
	Data  map[string]json.RawMessage `json:"data,omitempty"`
}

// PortalEventHeader is the "event" object of a portal event.
type PortalEventHeader struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Timestamp int64  `json:"timestamp"`
}

// PortalUser is the "user" object of a portal event.
type PortalUser struct {
	ID        string          `json:"id"`
	PartnerID *string         `json:"partnerId"`
	Auth      *PortalUserAuth `json:"auth,omitempty"`
}

// PortalUserAuth is the per-user token a portal event carries.
type PortalUserAuth struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"`
}

// EventKind is what an Etvas event means for a purchase, whatever its name.
type EventKind string

// Event kinds.
const (
	EventPurchased   EventKind = "purchased" // formal: our answer decides the purchase's fate
	EventCanceled    EventKind = "canceled"
	EventSuspended   EventKind = "suspended"
	EventResumed     EventKind = "resumed"
	EventUserCreated EventKind = "user_created"
	EventUserUpdated EventKind = "user_updated"
	EventUserDeleted EventKind = "user_deleted"
	EventUnknown     EventKind = "unknown" // record, acknowledge, count: never fail
)

// eventKinds maps every event name seen in Etvas sources (the two Etvas documents and https://github.com/etvascom/etvas-sdk) to its kind.
var eventKinds = map[string]EventKind{
	"product.purchased":   EventPurchased,
	"purchase.succeeded":  EventPurchased,
	"product.purchase":    EventPurchased,
	"purchase.canceled":   EventCanceled,
	"product.canceled":    EventCanceled,
	"product.cancel":      EventCanceled,
	"product.suspended":   EventSuspended,
	"purchase.suspended":  EventSuspended,
	"product.suspend":     EventSuspended,
	"product.repurchased": EventResumed,
	"product.resumed":     EventResumed,
	"purchase.resumed":    EventResumed,
	"product.resume":      EventResumed,
	"user.create":         EventUserCreated,
	"user.update":         EventUserUpdated,
	"user.deleted":        EventUserDeleted,
	"user.delete":         EventUserDeleted,
}

// ClassifyEvent maps an event name (either format, case-insensitive) to its kind.
func ClassifyEvent(name string) EventKind {
	if k, ok := eventKinds[strings.ToLower(strings.TrimSpace(name))]; ok {
		return k
	}
	return EventUnknown
}

// IsFormal reports whether the partner acts on our HTTP answer for this kind: only a
// purchase is formal (a non-2xx marks it failed and needs a human).
func (k EventKind) IsFormal() bool { return k == EventPurchased }
