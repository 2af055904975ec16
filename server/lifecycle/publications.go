package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// ChannelCLI is a change made by an operator with the covergate command (Source.Channel).
const ChannelCLI = "cli"

// RetryPublication sends a FAILED publication again (the dead-letter workflow): it becomes
// PENDING, due now, with a fresh attempt budget, the same payload and correlation id, and a
// publication.retried event records who retried it and how many attempts it had used. A
// publication in another status is a *domain.TransitionError; an unknown id store.ErrNotFound.
func (l *Lifecycle) RetryPublication(ctx context.Context, tx store.Tx, id string, src Source) (domain.Publication, error) {
	p, err := tx.GetPublication(ctx, id)
	if err != nil {
		return p, err
	}
	if p.Status != domain.PublicationFailed {
		return p, &domain.TransitionError{Entity: "publication", From: string(p.Status), To: string(domain.PublicationPending)}
	}
	if err := tx.RequeuePublication(ctx, id, l.cfg.Now()); err != nil {
		if errors.Is(err, store.ErrConflict) { // changed since the read (another operator)
			return p, &domain.TransitionError{Entity: "publication", From: string(p.Status), To: string(domain.PublicationPending)}
		}
		return p, fmt.Errorf("lifecycle: retry publication %s: %w", id, err)
	}
	if src.Partner == "" {
		src.Partner = p.Destination.Partner
	}
	if err := l.appendEvent(ctx, tx, domain.EventPublicationRetried, domain.SubjectPublications+p.ID, p.CustomerID, src, map[string]any{
		"publication_id": p.ID, "event_type": p.EventType, "correlation_id": p.CorrelationID,
		"previous_attempts": p.Attempts, "previous_status": string(p.Status),
	}); err != nil {
		return p, err
	}
	return tx.GetPublication(ctx, id)
}

// PayloadTooLargeError is returned by PublishEvent for an event whose body is larger than the
// input's limit: the partner would refuse it at delivery, so it is refused before it is queued.
type PayloadTooLargeError struct{ Size, Limit int }

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("lifecycle: the event is %d bytes; at most %d are accepted", e.Size, e.Limit)
}

// PublishInput is an event a caller publishes to Scalepoint.
type PublishInput struct {
	Event domain.ScalepointEvent // a zero Time is now
	// MaxPayloadBytes refuses a larger body with *PayloadTooLargeError (0: no limit).
	MaxPayloadBytes int
}

// PublishEvent queues a Scalepoint publication built by domain.ScalepointPublication (an
// envelope field among the event's fields is a *domain.EnvelopeConflictError) and appends
// publication.queued. The outbox workers deliver it.
func (l *Lifecycle) PublishEvent(ctx context.Context, tx store.Tx, in PublishInput, src Source) (domain.Publication, error) {
	if in.Event.Time.IsZero() {
		in.Event.Time = l.cfg.Now()
	}
	pub, err := domain.ScalepointPublication(in.Event)
	if err != nil {
		return domain.Publication{}, fmt.Errorf("lifecycle: publish %s: %w", in.Event.EventType, err)
	}
	if in.MaxPayloadBytes > 0 && len(pub.Payload) > in.MaxPayloadBytes {
		return domain.Publication{}, &PayloadTooLargeError{Size: len(pub.Payload), Limit: in.MaxPayloadBytes}
	}
	return l.queuePublication(ctx, tx, pub, src, nil)
}

// queuePublication writes pub to the outbox and appends publication.queued (with extra data,
// e.g. the claim it is about).
func (l *Lifecycle) queuePublication(ctx context.Context, tx store.Tx, pub domain.Publication, src Source, extra map[string]any) (domain.Publication, error) {
	queued, err := tx.EnqueuePublication(ctx, pub)
	if err != nil {
		return domain.Publication{}, fmt.Errorf("lifecycle: queue %s publication: %w", pub.EventType, err)
	}
	if src.Partner == "" {
		src.Partner = queued.Destination.Partner
	}
	data := map[string]any{
		"publication_id": queued.ID, "event_type": queued.EventType, "correlation_id": queued.CorrelationID,
	}
	putNonEmpty(data, "country", queued.Destination.Country)
	putNonEmpty(data, "tenant", queued.Destination.Tenant)
	for k, v := range extra {
		data[k] = v
	}
	if err := l.appendEvent(ctx, tx, domain.EventPublicationQueued, domain.SubjectPublications+queued.ID, queued.CustomerID, src, data); err != nil {
		return domain.Publication{}, err
	}
	return queued, nil
}
