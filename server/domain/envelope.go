package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Scalepoint envelope field names: every event published to Scalepoint carries them at the top
// level, beside the event-specific fields.
const (
	EnvelopeEventType      = "eventType"
	EnvelopePayloadVersion = "payloadVersion"
	EnvelopeCorrelationID  = "correlationId"
	EnvelopeTimestamp      = "timestamp"
)

// DefaultPayloadVersion is the envelope payloadVersion of an event that names none.
const DefaultPayloadVersion = "1.0.0"

// EnvelopeFields lists the envelope field names in the order they are reported (the one list:
// the builder below, the API's error messages and the claim route all use it).
func EnvelopeFields() []string {
	return []string{EnvelopeEventType, EnvelopePayloadVersion, EnvelopeCorrelationID, EnvelopeTimestamp}
}

// ScalepointEvent is an event to publish to Scalepoint: what ScalepointPublication turns into
// a queued publication.
type ScalepointEvent struct {
	Destination    Destination
	EventType      string
	PayloadVersion string // "" = DefaultPayloadVersion
	CorrelationID  string // "" = a new id
	Time           time.Time
	// Fields are the event-specific top-level fields (everything but the envelope).
	Fields map[string]json.RawMessage
	// CustomerID, when the event concerns a customer, lets erasure redact the payload.
	CustomerID string
}

// ScalepointPublication is the one way a Scalepoint publication is built: the payload is the
// complete EventApi body (ScalepointEnvelope of the event's fields) exactly as the outbox sends
// it, and the publication is PENDING. An envelope field among the fields is an
// *EnvelopeConflictError.
func ScalepointPublication(ev ScalepointEvent) (Publication, error) {
	if ev.PayloadVersion == "" {
		ev.PayloadVersion = DefaultPayloadVersion
	}
	if ev.CorrelationID == "" {
		id, err := NewID()
		if err != nil {
			return Publication{}, err
		}
		ev.CorrelationID = id
	}
	payload, err := ScalepointEnvelope(ev.EventType, ev.PayloadVersion, ev.CorrelationID, ev.Time, ev.Fields)
	if err != nil {
		return Publication{}, err
	}
	return Publication{
		Destination: ev.Destination, EventType: ev.EventType, CorrelationID: ev.CorrelationID,
		Payload: payload, CustomerID: ev.CustomerID, Status: PublicationPending,
	}, nil
}

// EnvelopeConflictError is returned by ScalepointEnvelope when the payload sets an envelope
// field itself.
type EnvelopeConflictError struct{ Field string }

func (e *EnvelopeConflictError) Error() string {
	return fmt.Sprintf("payload field %q is an envelope field set by the gateway", e.Field)
}

// ScalepointEnvelope renders the JSON body of a Scalepoint event: fields plus the envelope
// (eventType, payloadVersion, correlationId, and timestamp as RFC 3339 UTC with nanoseconds).
// A field colliding with the envelope is an *EnvelopeConflictError: overwriting it silently
// would publish something else than the caller wrote. Keys are sorted, so the same input always
// gives the same bytes.
func ScalepointEnvelope(eventType, payloadVersion, correlationID string, at time.Time, fields map[string]json.RawMessage) ([]byte, error) {
	names := EnvelopeFields()
	values := []string{eventType, payloadVersion, correlationID, at.UTC().Format(time.RFC3339Nano)}
	for _, k := range names {
		if _, ok := fields[k]; ok {
			return nil, &EnvelopeConflictError{Field: k}
		}
	}
	out := make(map[string]json.RawMessage, len(fields)+len(names))
	for k, v := range fields {
		out[k] = v
	}
	for i, k := range names {
		b, err := json.Marshal(values[i])
		if err != nil {
			return nil, fmt.Errorf("domain: envelope %s: %w", k, err)
		}
		out[k] = b
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("domain: encode envelope: %w", err)
	}
	return b, nil
}
