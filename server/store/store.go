// Package store defines Covergate's durable state: role interfaces shaped by
// how the services use them, a transaction boundary, typed errors and the
// filters and pages they take. Engines live in the sqlite and postgres
// subpackages; package engine opens one from a DSN; storetest is the
// conformance suite both engines pass.
package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/covergate/covergate/server/domain"
)

// Typed errors. Engines wrap them with context; callers use errors.Is.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict: optimistic concurrency failed (version/etag mismatch), a
	// lease is no longer held, or a reference already points elsewhere.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: an inbox delivery, idempotency key or unique reference
	// was seen before.
	ErrDuplicate = errors.New("duplicate")
	// ErrTxUnusable: a savepoint could not be rolled back, so the enclosing
	// transaction must be abandoned (see Savepointer).
	ErrTxUnusable = errors.New("transaction unusable")
)

// Savepointer is implemented by the Tx of both engines. Savepoint runs fn in
// a savepoint of the transaction: if fn returns an error, its writes (and the
// locks it took) are rolled back and the transaction goes on without them;
// the error is returned. If the rollback itself fails, the error also wraps
// ErrTxUnusable and the caller must fail the whole transaction. Group commit
// uses it to put several independent units of work in one transaction while
// each keeps its own outcome.
type Savepointer interface {
	Savepoint(ctx context.Context, fn func(ctx context.Context) error) error
}

// DuplicateInboxError is returned (wrapping ErrDuplicate) by InsertInbox for
// a delivery seen before; Existing lets the caller replay the stored response.
type DuplicateInboxError struct{ Existing domain.InboxRecord }

func (e *DuplicateInboxError) Error() string {
	return "store: inbox delivery " + string(e.Existing.Partner) + "/" + e.Existing.DeliveryKey + " already received: duplicate"
}

// Unwrap makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateInboxError) Unwrap() error { return ErrDuplicate }

// DuplicateIdempotencyError is returned (wrapping ErrDuplicate) by
// ReserveIdempotency for a live key; Existing holds the first request's record.
type DuplicateIdempotencyError struct{ Existing domain.IdempotencyRecord }

func (e *DuplicateIdempotencyError) Error() string {
	return "store: idempotency key already used (state " + string(e.Existing.State) + "): duplicate"
}

// Unwrap makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateIdempotencyError) Unwrap() error { return ErrDuplicate }

// LatestSchemaVersion is the version of the newest migration. Both engines
// ship the same numbered migrations; bump this with every new one.
const LatestSchemaVersion = 7

// MaxPageSize caps every List call; larger requests are clamped.
const MaxPageSize = 1000

// DefaultPageSize is used when a request asks for 0.
const DefaultPageSize = 50

// Page is one page of a listing. Next is the token for the following page
// (the last item's id, or event cursor); empty when there is nothing more.
type Page[T any] struct {
	Items []T
	Next  string
}

// PageRequest asks for at most Size items after the item named by After (the
// Next of the previous page; empty for the first page).
type PageRequest struct {
	Size  int
	After string
}

// CustomerReader reads customers.
type CustomerReader interface {
	GetCustomer(ctx context.Context, id string) (domain.Customer, error)
	FindCustomerByEtvasUserID(ctx context.Context, etvasUserID string) (domain.Customer, error)
	FindCustomerByEtvasContextID(ctx context.Context, contextID string) (domain.Customer, error)
	FindCustomerByAvataWallet(ctx context.Context, wallet string) (domain.Customer, error)
	ListCustomers(ctx context.Context, page PageRequest) (Page[domain.Customer], error)
}

// CustomerStore writes customers.
type CustomerStore interface {
	CustomerReader
	// CreateCustomer assigns ID, PseudonymID (if empty), Version 1 and times.
	// A taken Etvas user id, context id or wallet → ErrDuplicate.
	CreateCustomer(ctx context.Context, c domain.Customer) (domain.Customer, error)
	// UpdateCustomer writes c if the stored version is expectedVersion
	// (else ErrConflict). Context ids in c are linked if new; links are only
	// removed by erasure.
	UpdateCustomer(ctx context.Context, c domain.Customer, expectedVersion int64) (domain.Customer, error)
	// EnsureCustomerByEtvasUserID returns the customer with that Etvas user
	// id, creating it from c when absent (created reports which).
	EnsureCustomerByEtvasUserID(ctx context.Context, c domain.Customer) (customer domain.Customer, created bool, err error)
	// EnsureCustomerByAvataWallet is the same keyed by wallet address.
	EnsureCustomerByAvataWallet(ctx context.Context, c domain.Customer) (customer domain.Customer, created bool, err error)
	// AddEtvasContextID links an Etvas context to a customer; linking again
	// is a no-op, a context owned by another customer → ErrConflict.
	AddEtvasContextID(ctx context.Context, customerID, contextID string) error
	// EraseCustomer removes the customer's personal data everywhere in one
	// transaction (see the engine docs for the exact list). Unknown id →
	// ErrNotFound; erasing twice is fine.
	EraseCustomer(ctx context.Context, customerID string, now time.Time) (domain.Customer, error)
}

// QuoteReader reads quotes.
type QuoteReader interface {
	GetQuote(ctx context.Context, id string) (domain.Quote, error)
}

// QuoteStore writes quotes.
type QuoteStore interface {
	QuoteReader
	CreateQuote(ctx context.Context, q domain.Quote) (domain.Quote, error)
}

// PolicyFilter narrows ListPolicies; zero fields match everything.
type PolicyFilter struct {
	CustomerID string
	Partner    domain.Partner
	Status     domain.PolicyStatus
}

// PolicyReader reads policies.
type PolicyReader interface {
	GetPolicy(ctx context.Context, id string) (domain.Policy, error)
	FindPolicyByEtvasContextID(ctx context.Context, contextID string) (domain.Policy, error)
	FindPolicyByAvataUUID(ctx context.Context, avataPolicyUUID string) (domain.Policy, error)
	// FindPolicyByAvataReference returns the newest policy whose Avata reference (the purchase
	// reference we sent with the confirm) is ref.
	FindPolicyByAvataReference(ctx context.Context, ref string) (domain.Policy, error)
	ListPolicies(ctx context.Context, f PolicyFilter, page PageRequest) (Page[domain.Policy], error)
}

// PolicyStore writes policies.
type PolicyStore interface {
	PolicyReader
	CreatePolicy(ctx context.Context, p domain.Policy) (domain.Policy, error)
	// UpdatePolicy writes p if the stored version equals expectedVersion,
	// else ErrConflict; the returned policy has Version expectedVersion+1.
	UpdatePolicy(ctx context.Context, p domain.Policy, expectedVersion int64) (domain.Policy, error)
}

// ClaimFilter narrows ListClaims.
type ClaimFilter struct {
	PolicyID   string
	CustomerID string
	Status     domain.ClaimStatus
}

// ClaimReader reads claims and their documents.
type ClaimReader interface {
	GetClaim(ctx context.Context, id string) (domain.Claim, error)
	FindClaimByAvataUUID(ctx context.Context, avataClaimUUID string) (domain.Claim, error)
	ListClaims(ctx context.Context, f ClaimFilter, page PageRequest) (Page[domain.Claim], error)
	GetClaimDocument(ctx context.Context, id string) (domain.ClaimDocument, error)
	ListClaimDocuments(ctx context.Context, policyID string, page PageRequest) (Page[domain.ClaimDocument], error)
}

// ClaimStore writes claims.
type ClaimStore interface {
	ClaimReader
	CreateClaim(ctx context.Context, c domain.Claim) (domain.Claim, error)
	UpdateClaim(ctx context.Context, c domain.Claim, expectedVersion int64) (domain.Claim, error)
	CreateClaimDocument(ctx context.Context, d domain.ClaimDocument) (domain.ClaimDocument, error)
}

// InboxFilter narrows ListInbox.
type InboxFilter struct {
	Partner domain.Partner
	State   domain.InboxState
}

// InboxReader reads received webhook deliveries.
type InboxReader interface {
	GetInbox(ctx context.Context, id string) (domain.InboxRecord, error)
	FindInbox(ctx context.Context, partner domain.Partner, deliveryKey string) (domain.InboxRecord, error)
	// ListInbox pages deliveries in id (arrival) order, e.g. RECEIVED ones
	// for asynchronous processing or FAILED ones for an operator.
	ListInbox(ctx context.Context, f InboxFilter, page PageRequest) (Page[domain.InboxRecord], error)
}

// InboxStore records webhook deliveries.
type InboxStore interface {
	InboxReader
	// InsertInbox records a delivery. A (partner, delivery key) seen before
	// returns a *DuplicateInboxError (errors.Is ErrDuplicate) holding the
	// stored record; the transaction stays usable.
	InsertInbox(ctx context.Context, r domain.InboxRecord) (domain.InboxRecord, error)
	// UpdateInbox writes State, Error, Response, EventType and CustomerID.
	UpdateInbox(ctx context.Context, r domain.InboxRecord) error
}

// EventFilter narrows ListEvents. Events come in cursor order after
// AfterCursor.
type EventFilter struct {
	AfterCursor int64
	Types       []string
	Subject     string
	Partner     domain.Partner
	CustomerID  string
	PageSize    int
}

// EventLogReader reads the event log.
type EventLogReader interface {
	// ListEvents returns events with cursor > f.AfterCursor in cursor order.
	// Next is the decimal cursor of the last item when more may follow.
	ListEvents(ctx context.Context, f EventFilter) (Page[domain.Event], error)
	// LatestCursor is the highest committed cursor (0 for an empty log).
	LatestCursor(ctx context.Context) (int64, error)
}

// EventLog appends normalized events.
type EventLog interface {
	EventLogReader
	// AppendEvent assigns ID (if empty), Time (if zero) and Cursor. Cursors are
	// strictly increasing in commit order; watchers are notified on commit.
	// On PostgreSQL the first append makes the transaction wait for other
	// appending transactions to commit (that is what orders cursors), so
	// append events as the last step of a transaction.
	AppendEvent(ctx context.Context, e domain.Event) (domain.Event, error)
}

// EventBatchAppender is implemented by the Tx of both engines: AppendEvents appends evs as
// AppendEvent would one by one, in order (their cursors follow the slice), in a few multi-row
// statements, and returns no cursors. The webhook group commit appends a batch's events with it.
type EventBatchAppender interface {
	AppendEvents(ctx context.Context, evs []domain.Event) error
}

// WriteBehinder is implemented by the Tx of both engines. After DeferWrites, the writes whose
// result only says whether they failed (an inbox update, a new policy, personal-data links,
// event appends) may be held back and sent with the transaction's next statement — on
// PostgreSQL one round trip for several statements; SQLite runs them at once. Such a write's
// failure then surfaces at a later call or at FlushWrites, not at the call that made it: only
// a caller that redoes the whole work another way after any failure may use it (the webhook
// group commit's pass without savepoints). Commit sends what is held back first.
type WriteBehinder interface {
	DeferWrites()
	FlushWrites(ctx context.Context) error
}

// PublicationFilter narrows ListPublications.
type PublicationFilter struct {
	Status    domain.PublicationStatus
	EventType string
}

// OutboxStats summarizes the outbox for metrics.
type OutboxStats struct {
	Pending   int64
	Delivered int64
	Failed    int64
	// OldestPendingTime is the CreateTime of the oldest pending publication
	// (zero when none): now minus it is the delivery lag.
	OldestPendingTime time.Time
}

// OutboxReader reads publications.
type OutboxReader interface {
	GetPublication(ctx context.Context, id string) (domain.Publication, error)
	ListPublications(ctx context.Context, f PublicationFilter, page PageRequest) (Page[domain.Publication], error)
	OutboxStats(ctx context.Context) (OutboxStats, error)
}

// Outbox writes and leases publications.
type Outbox interface {
	OutboxReader
	// EnqueuePublication stores a PENDING publication (NextAttemptTime
	// defaults to now).
	EnqueuePublication(ctx context.Context, p domain.Publication) (domain.Publication, error)
	// ClaimDue leases up to limit PENDING publications whose next attempt is
	// due and whose lease is absent or expired, to owner until now+lease, and
	// counts the attempt. Two workers never hold the same publication; a
	// crashed worker's lease is taken over once it expires.
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]domain.Publication, error)
	// MarkDelivered, MarkRetry and MarkFailed apply only while owner still
	// holds the lease on a PENDING publication, else ErrConflict.
	MarkDelivered(ctx context.Context, id, owner string, partnerEventID string, now time.Time) error
	MarkRetry(ctx context.Context, id, owner string, nextAttempt time.Time, lastError string, now time.Time) error
	MarkFailed(ctx context.Context, id, owner string, lastError string, now time.Time) error
	// ReleasePublication gives back a lease whose publication was never sent (the partner's
	// circuit breaker was open): the lease is cleared, the attempt ClaimDue counted is taken
	// back, and the publication is due again at nextAttempt. Only the lease holder may release
	// (else ErrConflict).
	ReleasePublication(ctx context.Context, id, owner string, nextAttempt time.Time, now time.Time) error
	// RequeuePublication makes a FAILED publication PENDING again (operator
	// replay after a permanent error was fixed), due at now with its attempts
	// reset to 0; other states → ErrConflict.
	RequeuePublication(ctx context.Context, id string, now time.Time) error
}

// JobFilter narrows ListJobs; zero fields match everything.
type JobFilter struct {
	Kind   string
	Status domain.JobStatus
}

// JobReader reads background jobs.
type JobReader interface {
	GetJob(ctx context.Context, id string) (domain.Job, error)
	FindJob(ctx context.Context, kind, key string) (domain.Job, error)
	// ListJobs pages jobs in id (creation) order, e.g. FAILED ones for an operator.
	ListJobs(ctx context.Context, f JobFilter, page PageRequest) (Page[domain.Job], error)
}

// JobStore writes and leases background jobs (the same leasing rules as the outbox).
type JobStore interface {
	JobReader
	// EnsureJob stores j as PENDING (NextAttemptTime defaults to now) unless a job with its
	// (Kind, Key) exists, which is returned unchanged; created reports which. Kind and Key are
	// required.
	EnsureJob(ctx context.Context, j domain.Job) (job domain.Job, created bool, err error)
	// ClaimJobs leases up to limit PENDING jobs of the given kinds whose next attempt is due
	// and whose lease is absent or expired, to owner until now+lease, and counts the attempt.
	ClaimJobs(ctx context.Context, owner string, kinds []string, now time.Time, lease time.Duration, limit int) ([]domain.Job, error)
	// CompleteJob, RetryJob and FailJob apply only while owner holds the lease on a PENDING
	// job, else ErrConflict (unknown id: ErrNotFound).
	CompleteJob(ctx context.Context, id, owner string, now time.Time) error
	RetryJob(ctx context.Context, id, owner string, nextAttempt time.Time, lastError string, now time.Time) error
	FailJob(ctx context.Context, id, owner string, lastError string, now time.Time) error
	// RequeueJob makes a FAILED job PENDING again, due now, with its attempts reset (operator
	// replay); other states → ErrConflict.
	RequeueJob(ctx context.Context, id string, now time.Time) error
}

// PartnerCallReader reads the durable records of partner calls with side effects.
type PartnerCallReader interface {
	GetPartnerCall(ctx context.Context, id string) (domain.PartnerCall, error)
	// FindPartnerCall returns the newest call with this dedupe key (any state).
	FindPartnerCall(ctx context.Context, dedupeKey string) (domain.PartnerCall, error)
	// ListDuePartnerCalls lists up to limit PENDING calls whose NextCheckTime is at or before
	// now, oldest check first: the calls whose outcome the reconciler must resolve.
	ListDuePartnerCalls(ctx context.Context, now time.Time, limit int) ([]domain.PartnerCall, error)
}

// PartnerCallStore records partner calls.
type PartnerCallStore interface {
	PartnerCallReader
	// CreatePartnerCall records an intent (State defaults to PENDING). Another PENDING call with
	// the same dedupe key → ErrDuplicate.
	CreatePartnerCall(ctx context.Context, c domain.PartnerCall) (domain.PartnerCall, error)
	// UpdatePartnerCall writes State, Request, Result, LastError, Attempts, Subject, CustomerID
	// and NextCheckTime if the stored version is expectedVersion (else ErrConflict).
	UpdatePartnerCall(ctx context.Context, c domain.PartnerCall, expectedVersion int64) (domain.PartnerCall, error)
}

// IdempotencyReader reads idempotency records.
type IdempotencyReader interface {
	GetIdempotency(ctx context.Context, principal, key string) (domain.IdempotencyRecord, error)
}

// IdempotencyStore manages idempotency keys.
type IdempotencyStore interface {
	IdempotencyReader
	// ReserveIdempotency inserts r as IN_PROGRESS held by r.Holder until
	// r.LeaseExpireTime (both required). A live key →
	// *DuplicateIdempotencyError wrapping ErrDuplicate. An expired key is
	// replaced; so is an IN_PROGRESS key whose lease has passed (or that has
	// none), but only by the same method and request hash — another request
	// under that key gets the duplicate error.
	ReserveIdempotency(ctx context.Context, r domain.IdempotencyRecord) (domain.IdempotencyRecord, error)
	// RenewIdempotencyLease extends holder's lease of an IN_PROGRESS key to
	// until. ErrConflict if holder no longer holds it (taken over, released,
	// completed), ErrNotFound if the key is gone.
	RenewIdempotencyLease(ctx context.Context, principal, key, holder string, until time.Time) error
	// CompleteIdempotency stores the response and marks the key COMPLETED;
	// only its holder may (ErrConflict otherwise).
	CompleteIdempotency(ctx context.Context, principal, key, holder string, response []byte, customerID string) error
	// ReleaseIdempotency deletes an IN_PROGRESS key held by holder after the
	// request failed so a retry can run; a completed key, or one another
	// request holds now, is kept (ErrConflict).
	ReleaseIdempotency(ctx context.Context, principal, key, holder string) error
	// DeleteExpiredIdempotency deletes records expired at now.
	DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int64, error)
}

// CheckpointReader reads checkpoints.
type CheckpointReader interface {
	GetCheckpoint(ctx context.Context, name string) (domain.Checkpoint, error)
}

// CheckpointStore writes checkpoints.
type CheckpointStore interface {
	CheckpointReader
	SetCheckpoint(ctx context.Context, name, value string) (domain.Checkpoint, error)
}

// WalletSessionReader reads customers' wallet sessions.
type WalletSessionReader interface {
	// GetWalletSession returns the customer's session (ErrNotFound when none).
	GetWalletSession(ctx context.Context, customerID string) (domain.WalletSession, error)
}

// WalletSessionStore writes customers' wallet sessions (one per customer).
type WalletSessionStore interface {
	WalletSessionReader
	// PutWalletSession creates or replaces the customer's session; CreateTime and UpdateTime
	// become now. The customer must exist.
	PutWalletSession(ctx context.Context, s domain.WalletSession) (domain.WalletSession, error)
	// DeleteWalletSession removes the customer's session; deleted is false when there was none.
	DeleteWalletSession(ctx context.Context, customerID string) (deleted bool, err error)
}

// Reader is every read role; Store offers it outside transactions.
type Reader interface {
	CustomerReader
	QuoteReader
	PolicyReader
	ClaimReader
	InboxReader
	EventLogReader
	OutboxReader
	IdempotencyReader
	CheckpointReader
	JobReader
	WalletSessionReader
	PartnerCallReader
}

// Tx is every role, bound to one transaction.
type Tx interface {
	CustomerStore
	QuoteStore
	PolicyStore
	ClaimStore
	InboxStore
	EventLog
	Outbox
	IdempotencyStore
	CheckpointStore
	JobStore
	WalletSessionStore
	PartnerCallStore
}

// Notifier wakes event watchers after a commit that appended events.
type Notifier interface {
	// Subscribe returns a channel that receives (coalesced) signals until
	// cancel is called or ctx ends. A signal means "read after your cursor";
	// it may be spurious, and one signal can stand for many commits.
	Subscribe(ctx context.Context) (<-chan struct{}, func())
}

// Store is a durable store.
type Store interface {
	Reader
	Notifier
	// InTx runs fn in one transaction and commits if fn returns nil. On a
	// transient conflict (SQLITE_BUSY, PostgreSQL serialization failure or
	// deadlock) the store rolls back and runs fn again, so fn must not have
	// effects outside tx (or they must be safe to repeat). fn must not call
	// InTx itself (SQLite has a single writer connection: it would wait on
	// itself) and must not keep tx after returning.
	// A ctx marked WithoutFlush commits without waiting for the disk (see
	// there).
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// FindText lists "table.column" for every stored value that contains
	// needle, across every text and binary column of every table. It is the
	// GDPR audit that proves an erasure.
	FindText(ctx context.Context, needle string) ([]string, error)
	// SchemaVersion is the applied migration version (LatestSchemaVersion
	// after a successful Open that migrated).
	SchemaVersion(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// flushKey marks a context whose transactions commit without a flush.
type flushKey struct{}

// WithoutFlush marks ctx so that the transactions InTx runs with it commit
// without waiting for the disk: SQLite writes the commit to the WAL file but
// does not fsync it (synchronous=NORMAL for that transaction), PostgreSQL
// answers before its WAL is flushed (synchronous_commit=off for that
// transaction). Such a commit is visible at once and survives the death of
// this process (kill -9, a crash), because the data is in the operating
// system's hands; only a power cut or an OS crash can lose it, and only until
// the next ordinary commit, which flushes everything written before it (both
// logs are append-only: nothing committed later survives without it).
//
// Only for writes that may be lost on a power cut without breaking a promise,
// because they are repeated when lost: the outbox's delivery outcomes (a lost
// DELIVERED means the publication is sent again, with its correlationId).
// Never for what answers a partner or a client (an acknowledged webhook, an
// API write).
func WithoutFlush(ctx context.Context) context.Context {
	return context.WithValue(ctx, flushKey{}, true)
}

// FlushSkipped reports whether ctx was marked by WithoutFlush.
func FlushSkipped(ctx context.Context) bool {
	skip, _ := ctx.Value(flushKey{}).(bool)
	return skip
}

// Options configures an engine.
type Options struct {
	// SkipMigrate opens without applying migrations (the schema must then be
	// current, or Open fails).
	SkipMigrate bool
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for create/update times; nil means time.Now.
	Now func() time.Time
	// MaxRetries bounds InTx re-runs on transient conflicts (default 10).
	MaxRetries int
}
