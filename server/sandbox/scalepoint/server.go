package scalepoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Server is the Scalepoint sandbox. Create it with New, serve Handler, and Close it: Close
// ends held long polls and waits for webhook pushes in flight.
type Server struct {
	cfg     Config
	kit     *sandboxkit.Kit
	handler http.Handler

	ctx    context.Context // cancelled by Close; parent of webhook pushes
	cancel context.CancelFunc
	wg     sync.WaitGroup // webhook pushes
	once   sync.Once

	mu            sync.Mutex
	clients       map[string]Client
	tokens        map[string]issuedToken
	usedJTIs      map[string]time.Time // jti → assertion expiry (pruned after it)
	tokenRequests int
	tokensIssued  int
	published     []Publication
	nextPublishID int64
	publishID     string // Config.PublishID, switchable at run time
	events        []Event
	nextEventID   int64
	changed       chan struct{} // closed and replaced when an event is enqueued
	deliveries    []Delivery
}

type issuedToken struct {
	clientID string
	scopes   []string
	expiry   time.Time
}

// Publication is one event accepted by the send endpoint.
type Publication struct {
	ID int64 `json:"_id"`
	// AnsweredID is the id as the 201 carried it, as text ("" when the answer had none).
	AnsweredID    string          `json:"answeredId"`
	EventType     string          `json:"eventType"`
	CorrelationID string          `json:"correlationId"`
	ClientID      string          `json:"clientId"`
	Time          time.Time       `json:"time"`
	Payload       json.RawMessage `json:"payload"`
}

// Event is an inbound event as the receive endpoint (and a webhook push) presents it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Timestamp  string          `json:"timestamp"`
	Attributes json.RawMessage `json:"attributes"`
}

// Delivery is the outcome of pushing one event to the gateway.
type Delivery struct {
	EventID  string `json:"eventId"`
	Attempts int    `json:"attempts"`
	Status   int    `json:"status"` // last HTTP status, 0 if none
	Error    string `json:"error,omitempty"`
	OK       bool   `json:"ok"`
}

// New builds the sandbox with cfg (zero fields take DefaultConfig values) and registers
// cfg's client (client_secret authentication).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, ctx: ctx, cancel: cancel,
		clients: map[string]Client{}, tokens: map[string]issuedToken{}, usedJTIs: map[string]time.Time{},
		nextPublishID: 1, nextEventID: cfg.FirstEventID, changed: make(chan struct{}), publishID: cfg.PublishID,
	}
	if cfg.ClientSecret != "" {
		s.clients[cfg.ClientID] = Client{ID: cfg.ClientID, Secret: cfg.ClientSecret, Scopes: slices.Clone(cfg.AllowedScopes)}
	}
	kitOpts := cfg.Kit
	if kitOpts.Clock == nil {
		kitOpts.Clock = cfg.Clock
	}
	if kitOpts.FaultBody == nil {
		kitOpts.FaultBody = s.faultBody
	}
	s.kit = sandboxkit.New("scalepoint", kitOpts)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect/token", s.handleToken)
	mux.HandleFunc("POST /api/events/v1/{country}/external/{tenant}/send", s.handleSend)
	mux.HandleFunc("GET /api/events/v1/{country}/external/{tenant}/receive", s.handleReceive)
	mux.HandleFunc("GET /_sandbox/published", s.handlePublished)
	mux.HandleFunc("POST /_sandbox/events", s.handleEnqueue)
	mux.HandleFunc("GET /_sandbox/deliveries", s.handleDeliveries)
	mux.HandleFunc("GET /_sandbox/stats", s.handleStats)
	mux.HandleFunc("POST /_sandbox/tokens/revoke", s.handleRevoke)
	mux.HandleFunc("POST /_sandbox/publish-id", s.handlePublishID)
	s.handler = s.kit.Wrap(mux)
	return s
}

// Handler serves the sandbox (journal and faults included).
func (s *Server) Handler() http.Handler { return s.handler }

// Kit returns the journal and fault injector.
func (s *Server) Kit() *sandboxkit.Kit { return s.kit }

// Close ends held long polls, stops webhook pushes and waits for them. Safe to call twice.
func (s *Server) Close() {
	s.once.Do(func() {
		// Under mu: Enqueue checks ctx and calls wg.Add under mu too, so no push can start
		// after Wait has begun.
		s.mu.Lock()
		s.cancel()
		s.mu.Unlock()
	})
	s.wg.Wait()
}

// RegisterClient adds (or replaces) an OAuth client.
func (s *Server) RegisterClient(c Client) error {
	if c.ID == "" {
		return errors.New("scalepoint sandbox: client id is required")
	}
	if c.Secret == "" && c.Certificate == nil {
		return fmt.Errorf("scalepoint sandbox: client %q needs a secret or a certificate", c.ID)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(s.cfg.AllowedScopes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
	return nil
}

// Stats counts token endpoint traffic.
type Stats struct {
	TokenRequests int `json:"tokenRequests"` // every request to /connect/token
	TokensIssued  int `json:"tokensIssued"`
	Published     int `json:"published"`
	Events        int `json:"events"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{TokenRequests: s.tokenRequests, TokensIssued: s.tokensIssued, Published: len(s.published), Events: len(s.events)}
}

// Published returns every accepted publication in order.
func (s *Server) Published() []Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.published)
}

// Deliveries returns the outcomes of finished webhook pushes.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// RevokeTokens forgets every issued token, as if Scalepoint rotated its keys: the next API
// call with an old token gets 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetPublishID switches how the next 201 answers carry _id (see Config.PublishID).
func (s *Server) SetPublishID(style string) error {
	if !validPublishID(style) {
		return fmt.Errorf("scalepoint sandbox: publish id style %q: want number, string, missing, empty or text", style)
	}
	s.mu.Lock()
	s.publishID = style
	s.mu.Unlock()
	return nil
}

func (s *Server) handlePublishID(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Style string `json:"style"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return
	}
	if err := s.SetPublishID(req.Style); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"style": req.Style})
}

func (s *Server) handlePublished(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"published": s.Published()})
}

func (s *Server) handleDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries()})
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleRevoke(w http.ResponseWriter, _ *http.Request) {
	s.RevokeTokens()
	w.WriteHeader(http.StatusNoContent)
}

// faultBody makes injected faults look like Scalepoint's (Spring Boot) error bodies.
func (s *Server) faultBody(status int) []byte {
	b, _ := json.Marshal(map[string]any{
		"timestamp": s.cfg.Clock().UTC().Format("2006-01-02T15:04:05.000-0700"),
		"status":    status,
		"error":     http.StatusText(status),
		"message":   "sandbox: injected fault",
	})
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
