package etvas

import "encoding/json"

// The sandbox's own reading of the Etvas wire format. Nothing here is shared with the
// adapter: field names come from the documents' example bodies.

// Etvas API paths (App document, "Data flow" and "Using Etvas Platform for storing and
// retrieving information"; /purchase and /user/notify from the project's partner notes).
const (
	PathVerifyToken  = "/verify-token"
	PathUserProfile  = "/user/profile"
	PathPurchase     = "/purchase"
	PathUserNotify   = "/user/notify"
	PathExternalData = "/external-data/" // followed by the key
)

// Paths Etvas posts events to, relative to the partner's product URL: the App document's
// "POST /etvas/events" and the developer portal's default "/etvas-events".
const (
	AppEventsPath    = "/etvas/events"
	PortalEventsPath = "/etvas-events"
)

// Header names.
const (
	headerAPIKey           = "x-api-key"
	headerContext          = "x-etvas-context"
	headerSignature        = "x-signature"
	headerTimestamp        = "x-timestamp"
	headerWebhookSignature = "x-etvas-signature"
)

// Limits of the external-data store (App document: "a string value of max 100K", "the
// maximum 100K bytes for the resulting JSON"; keys ≤ 64 characters per the partner notes).
const (
	MaxExternalDataKey   = 64         // characters
	MaxExternalDataValue = 100 * 1024 // bytes of the JSON-encoded value; "100K" read as KiB
)

// verifyTokenRequest is the body of POST /verify-token: {"token": "received-token-here"}.
type verifyTokenRequest struct {
	Token *string `json:"token"`
}

// verifyTokenAnswer is {"contextId": "..."}: the document's "..." names no further field,
// so none is sent.
type verifyTokenAnswer struct {
	ContextID string `json:"contextId"`
}

// profileAnswer is GET /user/profile: exactly the documented four fields.
type profileAnswer struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
}

// profileWithAddress is GET /user/profile?include=address. No document shows the address;
// the sandbox adds the developer portal's user address fields, flat, under their names there.
type profileWithAddress struct {
	profileAnswer
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	RegionState string `json:"region/state"`
	Country     string `json:"country"`
	PostalCode  string `json:"postalCode"`
}

// externalData is the body of external-data reads and writes: {"data": string|null}.
type externalData struct {
	Data *string `json:"data"`
}

// notifyRequest is POST /user/notify {locale, subject, message}.
type notifyRequest struct {
	Locale  string `json:"locale"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// appEvent is an Etvas App event: {"name", "payload": {"productId", "contextId"}} as
// documented, with the optional id and timestamp of the readings.
type appEvent struct {
	ID        string     `json:"id,omitempty"`
	Name      string     `json:"name"`
	Payload   appPayload `json:"payload"`
	Timestamp *int64     `json:"timestamp,omitempty"`
}

type appPayload struct {
	ProductID  string `json:"productId"`
	ContextID  string `json:"contextId,omitempty"`
	PurchaseID string `json:"purchaseId,omitempty"`
}

// portalEvent is a developer-portal event: {"event", "user", "data"}.
type portalEvent struct {
	Event portalEventHeader `json:"event"`
	User  portalUser        `json:"user"`
	Data  portalData        `json:"data"`
}

type portalEventHeader struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Timestamp *int64 `json:"timestamp,omitempty"`
}

// portalUser.PartnerID is null until the partner answered user.create with its id.
type portalUser struct {
	ID        string      `json:"id"`
	PartnerID *string     `json:"partnerId"`
	Auth      *portalAuth `json:"auth,omitempty"`
}

type portalAuth struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"` // seconds since the epoch, as in the example (2086584376)
}

type portalData struct {
	User        *portalProfile `json:"user,omitempty"`
	WebIdentity *webIdentity   `json:"webIdentity,omitempty"`
	Product     *portalProduct `json:"product,omitempty"`
}

type portalProfile struct {
	Salutation  string `json:"salutation"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	DateOfBirth string `json:"dateOfBirth"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	RegionState string `json:"region/state"`
	Country     string `json:"country"`
	PostalCode  string `json:"postalCode"`
}

type webIdentity struct {
	Status         string `json:"status"`
	VerificationID string `json:"verificationId"`
}

// portalProduct: product.purchase carries no partnerId (the partner has not answered yet);
// the later product events carry the one the partner answered.
type portalProduct struct {
	ID            string      `json:"id"`
	PartnerID     string      `json:"partnerId,omitempty"`
	Name          string      `json:"name"`
	Price         json.Number `json:"price"`
	PriceType     string      `json:"priceType"`
	PriceInterval string      `json:"priceInterval"`
}

// portalAnswer is the documented answer to a portal event; the sandbox reads the partner
// ids from it and sends them in later events, as the portal document says Etvas does.
type portalAnswer struct {
	User *struct {
		ID        string `json:"id"`
		PartnerID string `json:"partnerId"`
	} `json:"user"`
	Data *struct {
		User *struct {
			ID        string `json:"id"`
			PartnerID string `json:"partnerId"`
		} `json:"user"`
		Product *struct {
			ID        string `json:"id"`
			PartnerID string `json:"partnerId"`
		} `json:"product"`
	} `json:"data"`
}
