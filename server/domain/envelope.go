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
	out := make(map[string]json.RawMessage, len(fields)+4)
	for k, v := range fields {
		switch k {
		case EnvelopeEventType, EnvelopePayloadVersion, EnvelopeCorrelationID, EnvelopeTimestamp:
			return nil, &EnvelopeConflictError{Field: k}
		}
		out[k] = v
	}
	for k, v := range map[string]string{
		EnvelopeEventType: eventType, EnvelopePayloadVersion: payloadVersion,
		EnvelopeCorrelationID: correlationID, EnvelopeTimestamp: at.UTC().Format(time.RFC3339Nano),
	} {
		b, err := json.Marshal(v)
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
