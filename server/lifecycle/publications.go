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
