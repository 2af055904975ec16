package scalepoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Documented error texts (https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint).
const (
	unauthorizedDescription      = "Full authentication is required to access this resource"
	insufficientScopeDescription = "Insufficient scope for this resource"
)

// envelopeFields every published payload must carry, in the order they are reported.
var envelopeFields = [...]string{"eventType", "payloadVersion", "correlationId", "timestamp"}

// springError writes Spring Boot's default error body, as Scalepoint's service does for
// binding errors (missing header, bad parameter, unreadable body).
func (s *Server) springError(w http.ResponseWriter, r *http.Request, status int, exception, message string) {
	writeJSON(w, status, map[string]any{
		"timestamp": s.cfg.Clock().UTC().Format("2006-01-02T15:04:05.000-0700"),
		"status":    status,
		"error":     http.StatusText(status),
		"exception": exception,
		"message":   message,
		"path":      r.URL.Path,
	})
}

// authorizeAPI checks bearer token, scope and tenant. It writes the error and returns
// false when the request may not proceed.
func (s *Server) authorizeAPI(w http.ResponseWriter, r *http.Request) (*issuedToken, bool) {
	tok := s.bearer(r)
	if tok == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scalepoint", error="unauthorized"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": unauthorizedDescription})
		return nil, false
	}
	if !slices.Contains(tok.scopes, ScopeEvents) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="events"`)
		writeJSON(w, http.StatusForbidden, map[string]string{
			"error": "insufficient_scope", "error_description": insufficientScopeDescription, "scope": ScopeEvents,
		})
		return nil, false
	}
	if r.PathValue("country") != s.cfg.Country || r.PathValue("tenant") != s.cfg.Tenant {
		s.springError(w, r, http.StatusNotFound, "", "No message available")
		return nil, false
	}
	return tok, true
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorizeAPI(w, r)
	if !ok {
		return
	}
	eventType := r.Header.Get("Event-Type")
	if eventType == "" {
		s.springError(w, r, http.StatusBadRequest, "org.springframework.web.bind.ServletRequestBindingException",
			"Missing request header 'Event-Type' for method parameter of type String")
		return
	}
	if !jsonUTF8(r.Header.Get("Content-Type")) {
		s.springError(w, r, http.StatusUnsupportedMediaType, "org.springframework.web.HttpMediaTypeNotSupportedException",
			fmt.Sprintf("Content type '%s' not supported", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.springError(w, r, http.StatusRequestEntityTooLarge, "org.springframework.web.multipart.MaxUploadSizeExceededException", "Maximum upload size exceeded")
			return
		}
		s.springError(w, r, http.StatusBadRequest, "org.springframework.http.converter.HttpMessageNotReadableException", "I/O error while reading input message")
		return
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(body, &payload); err != nil || payload == nil {
		s.springError(w, r, http.StatusBadRequest, "org.springframework.http.converter.HttpMessageNotReadableException",
			"JSON parse error: the payload is not a JSON object")
		return
	}
	fields := map[string]string{}
	var missing []string
	for _, f := range envelopeFields {
		var v string
		if json.Unmarshal(payload[f], &v) != nil || v == "" {
			missing = append(missing, f)
		}
		fields[f] = v
	}
	switch {
	case len(missing) > 0:
		writeJSON(w, http.StatusBadRequest, incorrectPayload("missing ["+strings.Join(missing, ", ")+"]"))
		return
	case !validTimestamp(fields["timestamp"]):
		writeJSON(w, http.StatusBadRequest, incorrectPayload("invalid [timestamp]"))
		return
	case fields["eventType"] != eventType:
		writeJSON(w, http.StatusBadRequest, incorrectPayload("eventType does not match Event-Type header"))
		return
	}
	s.mu.Lock()
	pub := Publication{
		ID: s.nextPublishID, EventType: eventType, CorrelationID: fields["correlationId"],
		ClientID: tok.clientID, Time: s.cfg.Clock().UTC(), Payload: json.RawMessage(body),
	}
	style := s.publishID
	s.nextPublishID++
	var answer []byte
	switch style {
	case PublishIDString:
		pub.AnsweredID = "_" + strconv.FormatInt(pub.ID, 10)
		answer, _ = json.Marshal(map[string]string{"_id": pub.AnsweredID})
	case PublishIDMissing:
		answer = []byte("{}")
	case PublishIDEmpty:
	case PublishIDText:
		answer = []byte("Created")
	default:
		pub.AnsweredID = strconv.FormatInt(pub.ID, 10)
		answer, _ = json.Marshal(map[string]int64{"_id": pub.ID})
	}
	s.published = append(s.published, pub)
	if over := len(s.published) - maxStored; over > 0 {
		clear(s.published[:over])
		s.published = s.published[over:]
	}
	s.mu.Unlock()
	switch style {
	case PublishIDEmpty:
		w.WriteHeader(http.StatusCreated)
	case PublishIDText:
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	default:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(append(answer, '\n'))
	}
}

func incorrectPayload(detail string) map[string]any {
	return map[string]any{"message": "Incorrect payload, " + detail, "valid": false}
}

// validTimestamp accepts ISO 8601 date-times with an offset, 0–9 fractional digits
// (.NET writes 7, as in the document's example).
func validTimestamp(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// jsonUTF8 accepts application/json with no charset or charset=utf-8 (any case, any spacing).
func jsonUTF8(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// receivePage is the receive response shape.
type receivePage struct {
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
	Meta struct{} `json:"meta"`
	Data []Event  `json:"data"`
}

func (s *Server) handleReceive(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorizeAPI(w, r); !ok {
		return
	}
	after, err := parseEventID(r.URL.Query().Get("lastEventId"))
	if err != nil {
		s.springError(w, r, http.StatusBadRequest, "org.springframework.web.method.annotation.MethodArgumentTypeMismatchException",
			"Failed to convert value of type 'java.lang.String' to required type 'EventId'")
		return
	}
	hold := time.NewTimer(s.cfg.HoldTimeout)
	defer hold.Stop()
	for {
		events, changed := s.eventsAfter(after)
		if len(events) > 0 {
			s.writePage(w, r, events, events[len(events)-1].ID)
			return
		}
		select {
		case <-changed:
		case <-hold.C:
			s.writePage(w, r, nil, r.URL.Query().Get("lastEventId"))
			return
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			s.springError(w, r, http.StatusServiceUnavailable, "", "sandbox shutting down")
			return
		}
	}
}

func (s *Server) writePage(w http.ResponseWriter, r *http.Request, events []Event, next string) {
	var p receivePage
	p.Data = events
	if p.Data == nil {
		p.Data = []Event{}
	}
	// The documented example's links.next is absolute: the same endpoint on the same host.
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if s.cfg.PublicURL != "" {
		if pub, err := url.Parse(s.cfg.PublicURL); err == nil && pub.Host != "" {
			u.Scheme, u.Host = pub.Scheme, pub.Host
		}
	}
	if next != "" {
		u.RawQuery = url.Values{"lastEventId": {next}}.Encode()
	}
	p.Links.Next = u.String()
	writeJSON(w, http.StatusOK, p)
}

// eventsAfter returns up to PageSize events with an id above after, and the channel that
// is closed when the next event arrives.
func (s *Server) eventsAfter(after int64) ([]Event, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// ids increase with the slice index, so a binary search finds the first newer event.
	i := sort.Search(len(s.events), func(i int) bool {
		id, _ := parseEventID(s.events[i].ID)
		return id > after
	})
	end := min(len(s.events), i+s.cfg.PageSize)
	return append([]Event(nil), s.events[i:end]...), s.changed
}

// parseEventID reads "_122047" (or "122047"); "" is the start.
func parseEventID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "_"), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad event id %q", s)
	}
	return n, nil
}

// EnqueueRequest is the body of POST /_sandbox/events.
type EnqueueRequest struct {
	Type       string          `json:"type"`       // defaults to attributes.eventType
	Attributes json.RawMessage `json:"attributes"` // missing envelope fields are filled in
	Push       bool            `json:"push"`       // also POST it to the gateway's webhook
	// Timestamp is the data item's timestamp, kept verbatim (default: now), e.g. to replay the
	// document's example.
	Timestamp string `json:"timestamp,omitempty"`
}

func (s *Server) handleEnqueue(w http.ResponseWriter, r *http.Request) {
	var req EnqueueRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return
	}
	ev, err := s.Enqueue(req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

// Enqueue adds an inbound event for receive (and pushes it to the gateway when asked and
// GatewayURL is set). Missing envelope attributes are filled in: eventType from Type,
// payloadVersion "1.0.0", a new correlationId, timestamp now.
func (s *Server) Enqueue(req EnqueueRequest) (Event, error) {
	now := s.cfg.Clock().UTC()
	ev, err := NewEvent("", req.Type, req.Attributes, now)
	if err != nil {
		return Event{}, err
	}
	if req.Timestamp != "" {
		ev.Timestamp = req.Timestamp
	}

	s.mu.Lock()
	ev.ID = "_" + strconv.FormatInt(s.nextEventID, 10)
	s.nextEventID++
	s.events = append(s.events, ev)
	if over := len(s.events) - maxStored; over > 0 {
		// Bounded memory for a long-running sandbox; like Scalepoint, old events expire.
		clear(s.events[:over])
		s.events = s.events[over:]
	}
	close(s.changed) // wake every held long poll
	s.changed = make(chan struct{})
	push := req.Push && s.cfg.GatewayURL != "" && s.ctx.Err() == nil
	if push {
		s.wg.Add(1) // under mu, so Close's Wait cannot miss it
	}
	s.mu.Unlock()
	if push {
		go s.push(ev)
	}
	return ev, nil
}

// NewEvent builds an inbound event as Scalepoint presents it (a receive data item, also the
// webhook body). eventType may be empty when attributes carry eventType; missing envelope
// attributes are filled in: payloadVersion "1.0.0", a new correlationId, timestamp now.
// The CLI uses it with WebhookRequest to send an event to a running gateway.
func NewEvent(id, eventType string, attributes json.RawMessage, now time.Time) (Event, error) {
	attrs := map[string]json.RawMessage{}
	if len(attributes) > 0 && !bytes.Equal(bytes.TrimSpace(attributes), []byte("null")) {
		if err := json.Unmarshal(attributes, &attrs); err != nil {
			return Event{}, fmt.Errorf("attributes must be a JSON object: %w", err)
		}
	}
	var attrType string
	if raw, ok := attrs["eventType"]; ok {
		if err := json.Unmarshal(raw, &attrType); err != nil {
			return Event{}, errors.New("attributes.eventType must be a string")
		}
	}
	switch {
	case eventType == "" && attrType == "":
		return Event{}, errors.New("type or attributes.eventType is required")
	case eventType == "":
		eventType = attrType
	case attrType != "" && attrType != eventType:
		return Event{}, errors.New("type and attributes.eventType differ")
	}
	now = now.UTC()
	defaults := map[string]string{
		"eventType": eventType, "payloadVersion": "1.0.0",
		"correlationId": uuid.NewString(), "timestamp": now.Format(time.RFC3339Nano),
	}
	for k, v := range defaults {
		if _, ok := attrs[k]; !ok {
			attrs[k], _ = json.Marshal(v) // a string always encodes
		}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return Event{}, fmt.Errorf("encode attributes: %w", err)
	}
	return Event{ID: id, Type: eventType, Timestamp: now.Format(time.RFC3339Nano), Attributes: raw}, nil
}
