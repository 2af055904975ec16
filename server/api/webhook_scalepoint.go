package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// Scalepoint events arrive pushed (POST /webhooks/scalepoint) and pulled (the long-poll
// consumer); both go through ScalepointEvents.process, so an event seen on both channels is
// applied once. The deduplication key is the event's own id (`id:_122047`: the long-poll item
// id, or `id`/`_id` of a pushed envelope), else the hash of the whole envelope. Never the
// correlation id: it ties together the events of one business flow (a case and its updates),
// so two different events may share it. What an event changes is lifecycle's decision
// (RecordScalepointEvent: partner_event.received for a known type, partner_event.unrecognized
// for any other, both with the channel and delivery as their source).

type scalepointWebhooks struct {
	webhooksv1.UnimplementedScalepointWebhookServiceServer
	events *ScalepointEvents
}

func newScalepointWebhooks(d Deps) webhooksv1.ScalepointWebhookServiceServer {
	return &scalepointWebhooks{events: NewScalepointEvents(d)}
}

// HandleEvent applies one pushed Scalepoint event.
func (s *scalepointWebhooks) HandleEvent(ctx context.Context, req *webhooksv1.HandleEventRequest) (*webhooksv1.HandleEventResponse, error) {
	dlv, err := delivery(ctx)
	if err != nil {
		return nil, err
	}
	attrs := req.GetAttributes().GetFields()
	ev := scalepointEvent{
		ID:             scalepointEventID(req.GetId(), dlv.Raw),
		EventType:      firstNonEmpty(attrs[domain.EnvelopeEventType].GetStringValue(), req.GetEventType(), req.GetType()),
		CorrelationID:  firstNonEmpty(attrs[domain.EnvelopeCorrelationID].GetStringValue(), req.GetCorrelationId()),
		PayloadVersion: firstNonEmpty(attrs[domain.EnvelopePayloadVersion].GetStringValue(), req.GetPayloadVersion()),
		Timestamp:      firstNonEmpty(attrs[domain.EnvelopeTimestamp].GetStringValue(), req.GetTimestamp()),
	}
	return s.events.process(ctx, dlv, ev, lifecycle.ChannelWebhook)
}

// ScalepointEvents applies Scalepoint events from either channel.
type ScalepointEvents struct {
	d Deps
}

// NewScalepointEvents returns the processor the webhook service and the poller share.
func NewScalepointEvents(d Deps) *ScalepointEvents { return &ScalepointEvents{d: d} }

// scalepointEvent is an event reduced to what processing needs.
type scalepointEvent = lifecycle.ScalepointEvent

// ProcessPolled applies an event received by long polling (the raw item is re-encoded as the
// inbox payload). A re-delivery, on either channel, has no second effect.
func (p *ScalepointEvents) ProcessPolled(ctx context.Context, ev scalepoint.Event) error {
	raw, err := json.Marshal(struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Timestamp  string          `json:"timestamp"`
		Attributes json.RawMessage `json:"attributes"`
	}{ev.ID, ev.Type, ev.Timestamp, ev.Attributes.Raw})
	if err != nil {
		return fmt.Errorf("api: encode polled Scalepoint event %s: %w", ev.ID, err)
	}
	now := time.Now
	if p.d.Now != nil {
		now = p.d.Now
	}
	dlv := webhook.Delivery{Partner: domain.PartnerScalepoint, Raw: raw, Headers: map[string]string{}, ReceiveTime: now()}
	_, err = p.process(ctx, dlv, scalepointEvent{
		ID: ev.ID, EventType: firstNonEmpty(ev.Attributes.EventType, ev.Type), CorrelationID: ev.Attributes.CorrelationID,
		PayloadVersion: ev.Attributes.PayloadVersion, Timestamp: firstNonEmpty(ev.Attributes.Timestamp, ev.Timestamp),
	}, lifecycle.ChannelPoll)
	return err
}

func (p *ScalepointEvents) process(ctx context.Context, dlv webhook.Delivery, ev scalepointEvent, channel string) (*webhooksv1.HandleEventResponse, error) {
	key := webhook.HashKey(dlv.Raw)
	if ev.ID != "" {
		key = "id:" + ev.ID
	}
	in := webhook.Inbound{Delivery: dlv, DeliveryKey: key, EventType: ev.EventType}
	resp := &webhooksv1.HandleEventResponse{}
	res, err := webhook.Record(ctx, p.d.Store, in, resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		ack := &webhooksv1.HandleEventResponse{Status: ackProcessed, DeliveryId: rec.ID}
		src := lifecycle.Source{Partner: domain.PartnerScalepoint, Channel: channel, Ref: rec.ID}
		recognized, err := p.d.Lifecycle.RecordScalepointEvent(ctx, tx, ev, rec.ID, src)
		if err != nil {
			return webhook.Outcome{}, err
		}
		if !recognized {
			logUnrecognized(ctx, p.d, domain.PartnerScalepoint, ev.EventType, rec.ID)
			ack.Status = ackIgnored
			return webhook.Outcome{State: domain.InboxIgnored, Error: "unrecognized event type", Response: ack, Unrecognized: true}, nil
		}
		return webhook.Outcome{State: domain.InboxProcessed, Response: ack}, nil
	})
	if err != nil {
		return nil, webhookError(err)
	}
	if res.Duplicate {
		if err := webhook.Replay(res.Record, resp); err != nil {
			return nil, webhookError(err)
		}
		resp.Status, resp.DeliveryId = ackDuplicate, res.Record.ID
	}
	return resp, nil
}

// scalepointEventID is a pushed event's own id: the receive-API item's `id` (already decoded
// into requestID), else `_id` at the top level (the publish answer's name for an event id),
// else `id` or `_id` inside `attributes`. A number is kept as written. "" when there is none.
func scalepointEventID(requestID string, raw []byte) string {
	if requestID != "" {
		return requestID
	}
	var body struct {
		ID         json.RawMessage `json:"_id"`
		Attributes struct {
			ID      json.RawMessage `json:"id"`
			UnderID json.RawMessage `json:"_id"`
		} `json:"attributes"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return ""
	}
	for _, field := range []json.RawMessage{body.ID, body.Attributes.ID, body.Attributes.UnderID} {
		if id := idText(field); id != "" {
			return id
		}
	}
	return ""
}

// idText is a JSON string's value or a JSON number as written; "" for anything else.
func idText(field json.RawMessage) string {
	var s string
	if json.Unmarshal(field, &s) == nil {
		return s
	}
	var n json.Number
	if len(field) > 0 && field[0] != '"' && json.Unmarshal(field, &n) == nil {
		return n.String()
	}
	return ""
}

// firstNonEmpty returns the first non-empty value.
func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
