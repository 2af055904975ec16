package domain

import "time"

// Redacted replaces personal data that erasure removed from free-form
// payloads (webhook bodies, event data, stored responses). It is valid JSON so
// readers of those columns keep working.
const Redacted = `{"redacted":true}`

// InboxState is the processing state of a received webhook delivery.
type InboxState string

// Inbox states.
const (
	InboxReceived  InboxState = "RECEIVED"
	InboxProcessed InboxState = "PROCESSED"
	InboxIgnored   InboxState = "IGNORED"
	InboxFailed    InboxState = "FAILED"
)

// InboxRecord is one verified webhook delivery, unique per (Partner,
// DeliveryKey), kept with its raw bytes.
type InboxRecord struct {
	ID          string
	Partner     Partner
	DeliveryKey string
	EventType   string
	Payload     []byte            // raw body exactly as received
	Headers     map[string]string // headers of interest only (signature, timestamp, ids)
	ReceiveTime time.Time
	State       InboxState
	Error       string
	Response    []byte // the body we acknowledged with; replayed for duplicates
	CustomerID  string // optional; erasure scrubs this customer's deliveries
	// Refs, when not nil, are InboxRefs(Payload, Headers) computed by the caller (not stored as
	// such): the webhook services compute them before joining the group commit, so that the
	// scans do not run in its single committer. The store computes them when nil.
	Refs []string
}

// Event types of the normalized event log. Event data carries ids, statuses,
// partner references and times, never personal data.
const (
	EventCustomerCreated = "customer.created"
	EventCustomerUpdated = "customer.updated"
	EventCustomerErased  = "customer.erased"
	EventPolicyCreated   = "policy.created"
	// EventPolicyUpdated: a policy's data changed without a status change (a purchase
	// completing a policy an earlier status event created, a retired partner key).
	EventPolicyUpdated            = "policy.updated"
	EventPolicyActivated          = "policy.activated"
	EventPolicySuspended          = "policy.suspended"
	EventPolicyCanceled           = "policy.canceled"
	EventPolicyExpired            = "policy.expired"
	EventPolicyRejected           = "policy.rejected"
	EventPolicyFailed             = "policy.failed"
	EventClaimCreated             = "claim.created"
	EventClaimStatusChanged       = "claim.status_changed"
	EventPartnerEventUnrecognized = "partner_event.unrecognized"
	// EventPartnerEventReceived is a known partner event that changes no customer, policy or
	// claim (Scalepoint case events), kept so the log shows every partner event.
	EventPartnerEventReceived = "partner_event.received"
	EventPublicationQueued    = "publication.queued"
	// EventPublicationRetried is a FAILED publication sent again (dead-letter retry).
	EventPublicationRetried = "publication.retried"
	EventQuoteCreated       = "quote.created"
)

// Event type names from the first store draft, kept so existing callers
// (store conformance tests) compile. New code uses EventClaimStatusChanged.
const (
	EventClaimUpdated  = "claim.updated"
	EventClaimApproved = "claim.approved"
	EventClaimRejected = "claim.rejected"
)

// KindEtvasProduct is the kind of a policy bought through Etvas (a product of
// Etvas's marketplace, with no quote of ours behind it).
const KindEtvasProduct QuoteKind = "ETVAS_PRODUCT"

// Event subjects are "<collection>/<id>".
const (
	SubjectCustomers    = "customers/"
	SubjectPolicies     = "policies/"
	SubjectClaims       = "claims/"
	SubjectPublications = "publications/"
	SubjectQuotes       = "quotes/"
	// SubjectDeliveries names an inbox delivery (unrecognized partner events).
	SubjectDeliveries = "deliveries/"
)

// Event is one entry of the normalized event log. Cursor is assigned by the
// store and strictly increases in commit order, so "after cursor X" never
// misses an event.
type Event struct {
	Cursor     int64
	ID         string
	Type       string
	Subject    string // e.g. "policies/<id>"
	Partner    Partner
	CustomerID string // optional; erasure redacts Data of this customer's events
	Data       []byte // JSON
	Time       time.Time
}

// PublicationStatus is the delivery state of an outbound partner event.
type PublicationStatus string

// Publication statuses.
const (
	PublicationPending   PublicationStatus = "PENDING"
	PublicationDelivered PublicationStatus = "DELIVERED"
	PublicationFailed    PublicationStatus = "FAILED"
)

// Destination addresses a partner endpoint (Scalepoint: country + tenant).
type Destination struct {
	Partner Partner
	Country string
	Tenant  string
}

// Publication is an outbox entry: an event to deliver to a partner, written
// in the same transaction as the change that caused it.
type Publication struct {
	ID              string
	Destination     Destination
	EventType       string
	CorrelationID   string
	Payload         []byte
	CustomerID      string // optional; erasure redacts the payload
	Status          PublicationStatus
	Attempts        int32
	NextAttemptTime time.Time
	LastError       string
	PartnerEventID  string // Scalepoint's _id once delivered, as text ("" when its answer had none)
	LeaseOwner      string
	LeaseExpireTime time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
	DeliverTime     time.Time
}

// IdempotencyState is the state of an idempotency key.
type IdempotencyState string

// Idempotency states.
const (
	IdempotencyInProgress IdempotencyState = "IN_PROGRESS"
	IdempotencyCompleted  IdempotencyState = "COMPLETED"
)

// IdempotencyRecord remembers the first result of a mutating request so a
// retry with the same key gets the same answer.
type IdempotencyRecord struct {
	Principal   string
	Key         string
	Method      string
	RequestHash string
	State       IdempotencyState
	Response    []byte
	CustomerID  string // optional: responses can hold PII, erasure deletes them
	CreateTime  time.Time
	ExpireTime  time.Time
	// Holder identifies the one request running under an IN_PROGRESS key (a random id per
	// attempt); only it may renew, complete or release the key.
	Holder string
	// LeaseExpireTime is when an IN_PROGRESS key stops being held: a retry of the same request
	// after it takes the key over (its holder died). Renewed while the request runs; zero once
	// COMPLETED.
	LeaseExpireTime time.Time
}

// Checkpoint is a named resume position, e.g. the last Scalepoint event id
// processed by the long-poll reader.
type Checkpoint struct {
	Name       string
	Value      string
	UpdateTime time.Time
}
