package lifecycle

import (
	"context"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Scalepoint events reference Scalepoint cases, which have no counterpart in our domain: a
// known event type is recorded as partner_event.received (its type, ids and times), an unknown
// one as partner_event.unrecognized. This is the one place that decides which is which.

// scalepointKnownTypes are the event types seen in Scalepoint's documents and client libraries.
var scalepointKnownTypes = map[string]bool{
	"payment_status_updated": true, "case_created": true, "claim_updated": true, "claimline_changed": true,
	"attachments_updated": true, "order_created": true, "repair_service_requested": true, "case_settled": true,
}

// ScalepointEvent is a received Scalepoint event (pushed or polled) reduced to its envelope.
type ScalepointEvent struct {
	ID             string // the event's own id ("" when it carries none)
	EventType      string
	CorrelationID  string
	PayloadVersion string
	Timestamp      string // as Scalepoint wrote it
}

// RecordScalepointEvent records the event of inbox delivery deliveryID: partner_event.received
// for a known type, partner_event.unrecognized (recognized false) for any other. src names the
// channel (webhook or poll) and delivery.
func (l *Lifecycle) RecordScalepointEvent(ctx context.Context, tx store.Tx, ev ScalepointEvent, deliveryID string, src Source) (recognized bool, err error) {
	src.Partner = domain.PartnerScalepoint
	if !scalepointKnownTypes[ev.EventType] {
		return false, l.appendEvent(ctx, tx, domain.EventPartnerEventUnrecognized, domain.SubjectDeliveries+deliveryID, "", src,
			map[string]any{"event_type": ev.EventType, "delivery_id": deliveryID})
	}
	data := map[string]any{"event_type": ev.EventType, "delivery_id": deliveryID}
	putNonEmpty(data, "partner_event_id", ev.ID)
	putNonEmpty(data, "correlation_id", ev.CorrelationID)
	putNonEmpty(data, "payload_version", ev.PayloadVersion)
	putNonEmpty(data, "partner_time", ev.Timestamp)
	return true, l.appendEvent(ctx, tx, domain.EventPartnerEventReceived, domain.SubjectDeliveries+deliveryID, "", src, data)
}
