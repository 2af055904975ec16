// Package outbox delivers queued partner publications (Scalepoint events) durably: workers lease
// due publications from the store, publish them, and record the outcome — delivered, retried
// later with exponential backoff and full jitter (or the partner's Retry-After), or failed for
// good on a permanent refusal, with the partner's message kept for operators.
//
// Delivery is at least once: a publication whose outcome could not be recorded (crash, lost
// lease) is published again after its lease expires. Scalepoint publishing is not idempotent,
// so each event carries a stable correlationId that lets the receiver recognize a repeat.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/store"
)

// Publisher sends one event; scalepoint.Client implements it.
type Publisher interface {
	// Publish returns the partner's id of the event as text ("" when its answer had none).
	Publish(ctx context.Context, eventType string, payload []byte) (string, error)
}

// Gate is implemented by publishers with a circuit breaker (scalepoint.Client): while it is
// open no publication is claimed, so an outage does not burn the attempts of every queued
// publication on calls that cannot reach the partner.
type Gate interface {
	BreakerState() string // "closed", "half-open" or "open"
}

// Defaults of Worker's zero fields.
const (
	DefaultLease        = 30 * time.Second
	DefaultBatch        = 50
	DefaultPoll         = 250 * time.Millisecond
	DefaultConcurrency  = 4
	DefaultBaseBackoff  = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultMaxAttempts  = 20
	maxLastErrorLength  = 1000
	recordOutcomeBudget = 10 * time.Second
)

// Worker delivers publications. Several workers (in one process or many replicas) may run on
// the same store: ClaimDue leases each publication to one owner at a time.
type Worker struct {
	Store     store.Store
	Publisher Publisher
	// Owner identifies this worker in leases; it must be unique per worker (a UUID per process).
	Owner string
	// Lease is how long a claimed publication is reserved; a delivery is given at most half of
	// it, so its outcome is recorded while the lease is still held.
	Lease time.Duration
	Batch int           // publications claimed per round
	Poll  time.Duration // wait between rounds when nothing was due
	// Concurrency is the number of deliveries in flight at once. 1 delivers each batch in queue
	// order; more trades that order for throughput.
	Concurrency int
	BaseBackoff time.Duration // first retry delay (before jitter)
	MaxBackoff  time.Duration // cap of the retry delay
	MaxAttempts int           // attempts before a publication is FAILED
	// Wake, when set, starts a round early (for example when a publication is queued).
	Wake   <-chan struct{}
	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, is told each outcome ("delivered", "retry", "failed", "released",
	// "lost_lease").
	Observe func(outcome string)
}

func (w *Worker) defaults() error {
	if w.Store == nil || w.Publisher == nil || w.Owner == "" {
		return errors.New("outbox: Store, Publisher and Owner are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&w.Lease, DefaultLease)
	def(&w.Poll, DefaultPoll)
	def(&w.BaseBackoff, DefaultBaseBackoff)
	def(&w.MaxBackoff, DefaultMaxBackoff)
	defInt(&w.Batch, DefaultBatch)
	defInt(&w.Concurrency, DefaultConcurrency)
	defInt(&w.MaxAttempts, DefaultMaxAttempts)
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	return nil
}

// Run delivers until ctx ends. Deliveries in flight when ctx ends are finished (each is bounded
// by half the lease) so their outcome is recorded; Run returns nil then.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.defaults(); err != nil {
		return err
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.Wake:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.WarnContext(ctx, "outbox: delivery round failed", "error", err)
		}
		next := w.Poll
		if n == w.Batch && err == nil {
			next = 0 // a full batch: more are probably due
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// RunOnce claims one batch of due publications and delivers it, returning how many were
// claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if err := w.defaults(); err != nil {
		return 0, err
	}
	if g, ok := w.Publisher.(Gate); ok && g.BreakerState() == "open" {
		return 0, nil
	}
	var due []domain.Publication
	err := w.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		due, err = tx.ClaimDue(ctx, w.Owner, w.Now(), w.Lease, w.Batch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: claim due publications: %w", err)
	}
	// Deliver in queue order (ids are time-ordered UUIDv7): with Concurrency 1 the partner
	// receives this worker's events in the order they were queued.
	slices.SortFunc(due, func(a, b domain.Publication) int { return strings.Compare(a.ID, b.ID) })
	// Deliveries outlive ctx: a publication being sent when shutdown starts is finished and
	// recorded, instead of being sent again by the next owner after its lease.
	work := context.WithoutCancel(ctx)
	// Each outcome is recorded as soon as the partner has answered, before this worker sends
	// anything else: a crash (kill -9) can then re-send only the publications actually in
	// flight — at most Concurrency — not every publication sent since the last commit. That
	// costs one commit per publication; Scalepoint publishing is not idempotent, and a repeat
	// is what the receiver has to clean up. The commit does not wait for the disk (see
	// record), so the serial send → commit → send chain is not paced by fsync latency.
	var g errgroup.Group
	g.SetLimit(w.Concurrency)
	for _, p := range due {
		if ctx.Err() != nil {
			// Shutdown: the rest of the batch is given back (lease released, no attempt used)
			// rather than sent now.
			g.Go(func() error {
				w.record(work, []sent{{p: p, outcome: "released", next: w.Now()}})
				return nil
			})
			continue
		}
		g.Go(func() error {
			w.record(work, []sent{w.send(work, p)})
			return nil
		})
	}
	_ = g.Wait()
	return len(due), nil
}

// sent is a publication's delivery result, to be recorded.
type sent struct {
	p       domain.Publication
	outcome string // "delivered", "retry", "failed" or "released" (not sent: breaker open)
	next    time.Time
	lastErr string
	eventID string
}

// send publishes one leased publication and classifies the result. While the partner's circuit
// breaker is open nothing is sent: the lease is given back without using up an attempt, so a
// long outage cannot exhaust a publication's attempts without it ever reaching the partner.
func (w *Worker) send(ctx context.Context, p domain.Publication) sent {
	if g, ok := w.Publisher.(Gate); ok && g.BreakerState() == "open" {
		return sent{p: p, outcome: "released", next: w.Now().Add(w.BaseBackoff)}
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.Lease/2)
	id, err := w.Publisher.Publish(sendCtx, p.EventType, p.Payload)
	cancel()
	if circuitOpen(err) {
		return sent{p: p, outcome: "released", next: w.Now().Add(w.BaseBackoff)}
	}
	outcome, next, lastErr := w.classify(p, err)
	return sent{p: p, outcome: outcome, next: next, lastErr: lastErr, eventID: id}
}

// circuitOpen reports whether the adapter refused to send because its breaker is open.
func circuitOpen(err error) bool {
	return partnerhttp.IsCircuitOpen(err)
}

// record stores the outcomes of batch in one transaction. A publication whose lease was lost
// is reported as such and does not affect the others; any other failure records them one by
// one, so that one bad row cannot keep the rest unrecorded.
//
// The transaction commits without a flush (store.WithoutFlush): the outcome is committed —
// visible to every worker and kept if this process dies — before the next send, which is
// what bounds a crash's re-sends to the publications in flight; an fsync per publication
// would only add protection against a power cut, and that is given anyway by the next
// flushed commit: the ClaimDue of the next round, at most Batch outcomes later. An outcome
// lost to a power cut leaves its publication PENDING under an expiring lease, so it is sent
// again with the same correlationId: at least once still holds.
func (w *Worker) record(ctx context.Context, batch []sent) {
	rec, cancel := context.WithTimeout(store.WithoutFlush(ctx), recordOutcomeBudget)
	defer cancel()
	now := w.Now()
	errs := make([]error, len(batch))
	err := w.Store.InTx(rec, func(ctx context.Context, tx store.Tx) error {
		for i, s := range batch {
			switch s.outcome {
			case "delivered":
				errs[i] = tx.MarkDelivered(ctx, s.p.ID, w.Owner, s.eventID, now)
			case "retry":
				errs[i] = tx.MarkRetry(ctx, s.p.ID, w.Owner, s.next, s.lastErr, now)
			case "released":
				errs[i] = tx.ReleasePublication(ctx, s.p.ID, w.Owner, s.next, now)
			default:
				errs[i] = tx.MarkFailed(ctx, s.p.ID, w.Owner, s.lastErr, now)
			}
			if errs[i] != nil && !errors.Is(errs[i], store.ErrConflict) {
				return errs[i]
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, s := range batch {
			w.record(ctx, []sent{s})
		}
		return
	}
	for i, s := range batch {
		werr := errs[i]
		if err != nil {
			werr = err
		}
		w.report(ctx, s, werr)
	}
}

// report logs and observes a recorded outcome.
func (w *Worker) report(ctx context.Context, s sent, werr error) {
	p, outcome := s.p, s.outcome
	log := w.Logger.With("publication_id", p.ID, "event_type", p.EventType, "attempt", p.Attempts)
	switch {
	case errors.Is(werr, store.ErrConflict):
		// The lease expired (a slow partner) and another worker owns the publication now.
		outcome = "lost_lease"
		log.WarnContext(ctx, "outbox: lease lost before the outcome was recorded", "outcome", outcome)
	case werr != nil:
		log.ErrorContext(ctx, "outbox: record delivery outcome", "error", werr)
		return
	case outcome == "delivered":
		log.DebugContext(ctx, "outbox: delivered", "partner_event_id", s.eventID)
	case outcome == "retry":
		log.InfoContext(ctx, "outbox: delivery failed, will retry", "next_attempt", s.next, "error", s.lastErr)
	case outcome == "released":
		log.DebugContext(ctx, "outbox: not sent, the partner's circuit breaker is open", "next_attempt", s.next)
	default:
		log.WarnContext(ctx, "outbox: delivery failed permanently", "error", s.lastErr)
	}
	if w.Observe != nil {
		w.Observe(outcome)
	}
}

// classify decides what a delivery result means: delivered; retry at next; or failed.
func (w *Worker) classify(p domain.Publication, err error) (outcome string, next time.Time, lastErr string) {
	if err == nil {
		return "delivered", time.Time{}, ""
	}
	lastErr = describe(err)
	if Permanent(err) {
		return "failed", time.Time{}, lastErr
	}
	if int(p.Attempts) >= w.MaxAttempts {
		return "failed", time.Time{}, fmt.Sprintf("gave up after %d attempts: %s", p.Attempts, lastErr)
	}
	delay := Backoff(int(p.Attempts), w.BaseBackoff, w.MaxBackoff, rand.Float64())
	var pe *partnerhttp.Error
	if errors.As(err, &pe) && pe.RetryAfter > delay {
		delay = pe.RetryAfter
	}
	return "retry", w.Now().Add(delay), lastErr
}

// Permanent reports whether a publish error will not go away by retrying: the partner refused
// the event itself (a 4xx other than 408 Request Timeout, 429 Too Many Requests and 401, which
// means an expired or rotated token), or the adapter refused it before sending (invalid event).
func Permanent(err error) bool {
	var pe *partnerhttp.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case pe.HTTPStatus == http.StatusRequestTimeout, pe.HTTPStatus == http.StatusTooManyRequests,
		pe.HTTPStatus == http.StatusUnauthorized:
		return false
	case pe.HTTPStatus >= 400 && pe.HTTPStatus < 500:
		return true
	case pe.HTTPStatus == 0:
		return partnerhttp.IsRefusedBeforeSending(pe)
	}
	return false
}

// Backoff is the delay before retry number attempt (1 = after the first failure): full jitter
// over an exponential ceiling, u in [0,1) being the random draw. Full jitter spreads the retries
// of many publications that failed together (an outage) instead of synchronizing them.
func Backoff(attempt int, base, maxDelay time.Duration, u float64) time.Duration {
	ceiling := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if shift := attempt - 1; shift < 40 {
		if c := base << shift; c > 0 && c < maxDelay {
			ceiling = c
		}
	}
	return time.Duration(u * float64(ceiling))
}

// describe renders a delivery error for Publication.LastError: the adapter's description plus
// the partner's own message (HTTP status, partner message), trimmed.
func describe(err error) string {
	msg := err.Error()
	var pe *partnerhttp.Error
	if errors.As(err, &pe) {
		var b strings.Builder
		b.WriteString(msg)
		if pe.HTTPStatus != 0 && !strings.Contains(msg, fmt.Sprint(pe.HTTPStatus)) {
			fmt.Fprintf(&b, " (HTTP %d)", pe.HTTPStatus)
		}
		if pe.PartnerMessage != "" && !strings.Contains(msg, pe.PartnerMessage) {
			b.WriteString(": ")
			b.WriteString(pe.PartnerMessage)
		}
		msg = b.String()
	}
	if len(msg) > maxLastErrorLength {
		msg = msg[:maxLastErrorLength]
	}
	return msg
}
