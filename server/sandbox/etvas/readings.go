package etvas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// ReadingsPath is the control endpoint of the readings: GET answers the current ones, POST
// changes the fields it names (others keep their value), DELETE restores the defaults.
const ReadingsPath = "/_sandbox/readings"

// Values of the readings.
const (
	TimestampsMilliseconds = "milliseconds"
	TimestampsSeconds      = "seconds"
	TimestampsAbsent       = "absent"

	WriteMethodPOST = "POST"
	WriteMethodPUT  = "PUT"
	WriteMethodAny  = "any"

	Present = "present"
	Absent  = "absent"

	ContextFieldContextID  = "contextId"
	ContextFieldPurchaseID = "purchaseId"
)

// Readings are the sandbox's answers to the questions the Etvas documents leave open. Each
// field is one question; its zero value means the default reading. Tests switch the sandbox
// to every reading so the adapter is proven against all of them.
type Readings struct {
	// Timestamps: unit of the event time, in the App format's top-level `timestamp` and the
	// developer portal's `event.timestamp`. The App document shows no timestamp; the portal
	// document shows 19786584376 and names no unit; the current SDK checks a millisecond
	// `timestamp` against a window. Default milliseconds (the SDK, which the signature scheme
	// comes from); seconds; absent (the App document's bodies, verbatim).
	Timestamps string `json:"timestamps,omitempty"`
	// ExternalDataWrite: the method the sandbox accepts for external-data writes. The App
	// document says POST, the SDK uses PUT. Default POST (the document); PUT; any (both).
	// The other method is answered 405.
	ExternalDataWrite string `json:"externalDataWrite,omitempty"`
	// PortalAPIKey: whether developer-portal events carry x-api-key. The App document shows
	// it on App events; the portal document does not say. Default present; absent.
	PortalAPIKey string `json:"portalApiKey,omitempty"`
	// AppEventID: whether App events carry a top-level event `id`. The document's bodies
	// have none. Default absent; present (a fresh UUID per event, kept across re-sends of
	// the same EventRequest.EventID).
	AppEventID string `json:"appEventId,omitempty"`
	// AppContextField: the payload field naming the purchase. The document says contextId
	// ("which resembles a purchaseId"); some SDK versions send purchaseId. Default contextId;
	// purchaseId.
	AppContextField string `json:"appContextField,omitempty"`
}

// DefaultReadings returns the default reading of every open question.
func DefaultReadings() Readings {
	return Readings{
		Timestamps:        TimestampsMilliseconds,
		ExternalDataWrite: WriteMethodPOST,
		PortalAPIKey:      Present,
		AppEventID:        Absent,
		AppContextField:   ContextFieldContextID,
	}
}

// readingChoices lists the allowed values of each reading, default first.
var readingChoices = []struct {
	name    string
	field   func(*Readings) *string
	choices []string
}{
	{"timestamps", func(r *Readings) *string { return &r.Timestamps }, []string{TimestampsMilliseconds, TimestampsSeconds, TimestampsAbsent}},
	{"externalDataWrite", func(r *Readings) *string { return &r.ExternalDataWrite }, []string{WriteMethodPOST, WriteMethodPUT, WriteMethodAny}},
	{"portalApiKey", func(r *Readings) *string { return &r.PortalAPIKey }, []string{Present, Absent}},
	{"appEventId", func(r *Readings) *string { return &r.AppEventID }, []string{Absent, Present}},
	{"appContextField", func(r *Readings) *string { return &r.AppContextField }, []string{ContextFieldContextID, ContextFieldPurchaseID}},
}

// Normalize fills empty fields with their default and checks the others.
func (r Readings) Normalize() (Readings, error) {
	for _, rc := range readingChoices {
		v := rc.field(&r)
		if *v == "" {
			*v = rc.choices[0]
			continue
		}
		ok := false
		for _, c := range rc.choices {
			if strings.EqualFold(*v, c) {
				*v, ok = c, true
				break
			}
		}
		if !ok {
			return Readings{}, fmt.Errorf("%s must be one of %s, not %q", rc.name, strings.Join(rc.choices, ", "), *v)
		}
	}
	return r, nil
}

// merge returns r with the non-empty fields of change applied.
func (r Readings) merge(change Readings) Readings {
	for _, rc := range readingChoices {
		if v := *rc.field(&change); v != "" {
			*rc.field(&r) = v
		}
	}
	return r
}

// ReadingVariants returns the default readings followed by, for each open question, the
// default readings with that one question answered otherwise: the set a test runs against
// to cover every reading of every question.
func ReadingVariants() []Readings {
	out := []Readings{DefaultReadings()}
	for _, rc := range readingChoices {
		for _, c := range rc.choices[1:] {
			r := DefaultReadings()
			*rc.field(&r) = c
			out = append(out, r)
		}
	}
	return out
}

// String names the readings compactly (for test names and logs).
func (r Readings) String() string {
	parts := make([]string, 0, len(readingChoices))
	for _, rc := range readingChoices {
		parts = append(parts, rc.name+"="+*rc.field(&r))
	}
	return strings.Join(parts, ",")
}

// Readings returns the readings in force.
func (s *Server) Readings() Readings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readings
}

// SetReadings replaces the readings in force (empty fields take their default).
func (s *Server) SetReadings(r Readings) error {
	r, err := r.Normalize()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.readings = r
	s.mu.Unlock()
	return nil
}

func (s *Server) serveReadings(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var change Readings
		if err := decodeStrict(r, &change); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		next, err := s.Readings().merge(change).Normalize()
		if err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		_ = s.SetReadings(next) // already normalized
	case http.MethodDelete:
		_ = s.SetReadings(Readings{}) // the defaults are valid
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeMessage(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
		return
	}
	sandboxkit.WriteJSON(w, http.StatusOK, s.Readings())
}

// decodeStrict decodes a JSON object body (at most 1 MiB) refusing unknown fields; an
// empty body leaves v unchanged.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}
