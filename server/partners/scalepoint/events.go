package scalepoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Envelope fields every EventApi payload carries (https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint, "Publish event
// data"). The sandbox rejects a payload without them with "Incorrect payload, missing [..]".
var envelopeFields = [...]string{"eventType", "payloadVersion", "correlationId", "timestamp"}

// Attributes is the EventApi envelope of an event. Raw keeps every attribute byte for byte
// (payment, claim, case, ... differ per event type and version).
type Attributes struct {
	EventType      string          `json:"eventType"`
	PayloadVersion string          `json:"payloadVersion"`
	CorrelationID  string          `json:"correlationId"`
	Timestamp      string          `json:"timestamp"`
	Raw            json.RawMessage `json:"-"`
}

// Time parses the envelope timestamp (RFC 3339 with up to 7 fractional digits, as in
// "2017-07-25T10:31:28.2519514Z").
func (a Attributes) Time() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, a.Timestamp)
	if err != nil {
		return time.Time{}, fmt.Errorf("scalepoint: event timestamp %q: %w", a.Timestamp, err)
	}
	return t, nil
}

// Event is one received event (an item of the receive response's data array, and the body
// of a webhook delivery).
type Event struct {
	ID         string     `json:"id"` // e.g. "_122047"; the resume cursor (lastEventId)
	Type       string     `json:"type"`
	Timestamp  string     `json:"timestamp"`
	Attributes Attributes `json:"attributes"`
}

// Page is one receive (long-poll) response.
type Page struct {
	Events []Event
	// Next is the lastEventId for the next Receive: the last event's id, or the id passed
	// in when the page is empty. Store it only after the page's events are processed.
	Next string
	// NextLink is the partner's links.next, verbatim (informational).
	NextLink string
}

// wire shapes of the receive response.
type wireEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Attributes json.RawMessage `json:"attributes"`
}

type wirePage struct {
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
	Data []wireEvent `json:"data"`
}

// ParseEvent decodes one event (a webhook body or a receive data item) and checks that it
// has an id and the envelope attributes.
func ParseEvent(b []byte) (Event, error) {
	var w wireEvent
	if err := strictObject(b, &w); err != nil {
		return Event{}, fmt.Errorf("scalepoint: event: %w", err)
	}
	return w.event()
}

func (w wireEvent) event() (Event, error) {
	if w.ID == "" {
		return Event{}, errors.New("scalepoint: event without id")
	}
	ev := Event{ID: w.ID, Type: w.Type, Timestamp: rawString(w.Timestamp)}
	if len(w.Attributes) == 0 || bytes.Equal(w.Attributes, []byte("null")) {
		return Event{}, fmt.Errorf("scalepoint: event %s without attributes", w.ID)
	}
	if err := json.Unmarshal(w.Attributes, &ev.Attributes); err != nil {
		return Event{}, fmt.Errorf("scalepoint: event %s attributes: %w", w.ID, err)
	}
	ev.Attributes.Raw = slices.Clone(w.Attributes)
	if ev.Attributes.EventType == "" {
		return Event{}, fmt.Errorf("scalepoint: event %s without attributes.eventType", w.ID)
	}
	if ev.Type == "" {
		ev.Type = ev.Attributes.EventType
	}
	return ev, nil
}

// rawString returns a JSON string's value, or a number's literal text (the doc does not say
// which one Scalepoint sends for the data item's timestamp).
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	return string(raw)
}

func parsePage(body []byte, lastEventID string) (Page, error) {
	var w wirePage
	if err := strictObject(body, &w); err != nil {
		return Page{}, fmt.Errorf("scalepoint: receive response: %w", err)
	}
	p := Page{Next: lastEventID, NextLink: w.Links.Next, Events: make([]Event, 0, len(w.Data))}
	for _, we := range w.Data {
		ev, err := we.event()
		if err != nil {
			return Page{}, fmt.Errorf("scalepoint: receive response: %w", err)
		}
		p.Events = append(p.Events, ev)
	}
	if n := len(p.Events); n > 0 {
		p.Next = p.Events[n-1].ID
	}
	return p, nil
}

// strictObject decodes a single JSON object (nothing after it).
func strictObject(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// checkPayload validates what the EventApi requires before anything is sent: a JSON object
// with the four envelope fields as non-empty strings and eventType equal to the Event-Type
// header. Returns the names of the problem fields.
func checkPayload(eventType string, payload []byte) []fieldProblem {
	var obj map[string]json.RawMessage
	if err := strictObject(payload, &obj); err != nil || obj == nil {
		return []fieldProblem{{"payload", "must be a JSON object"}}
	}
	var probs []fieldProblem
	for _, f := range envelopeFields {
		var s string
		if raw, ok := obj[f]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			probs = append(probs, fieldProblem{"payload." + f, "must be a non-empty string"})
		}
	}
	var inPayload string
	_ = json.Unmarshal(obj["eventType"], &inPayload)
	if inPayload != "" && inPayload != eventType {
		probs = append(probs, fieldProblem{"event_type", fmt.Sprintf("must equal payload.eventType %q", inPayload)})
	}
	return probs
}

type fieldProblem struct{ field, desc string }
