package etvas

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	etvasapi "github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox control paths (never journaled or faulted).
const (
	TokensPath        = "/_sandbox/tokens"
	EventsPath        = "/_sandbox/events"
	NotificationsPath = "/_sandbox/notifications"
)

// Error bodies, as the platform answers them.
const (
	msgUnauthorized = "Unauthorized"
	msgInvalidToken = "Invalid token"
	msgBadSignature = "Invalid signature"
)

// Profile is a sandbox customer; the address fields are returned with ?include=address.
type Profile struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	etvasapi.Address
}

// defaultProfile is the customer behind a token minted without a profile (fictional).
var defaultProfile = Profile{
	FirstName: "Erika", LastName: "Mustermann", Email: "erika.mustermann@example.com", PhoneNumber: "+4930123456789",
	Address: etvasapi.Address{Address1: "Heidestraße 17", City: "Berlin", RegionState: "Berlin", Country: "Germany", PostalCode: "10557"},
}

// purchase is the state of one context (purchase).
type purchase struct {
	ContextID   string    `json:"contextId"`
	ProductID   string    `json:"productId"`
	Status      string    `json:"status"`
	PurchasedAt time.Time `json:"purchasedAt"`
	profile     Profile
}

// Notification is a notification the sandbox accepted (GET /_sandbox/notifications).
type Notification struct {
	ContextID string    `json:"contextId"`
	Locale    string    `json:"locale"`
	Subject   string    `json:"subject"`
	Message   string    `json:"message"`
	Time      time.Time `json:"time"`
}

// Server is one Etvas sandbox. It owns no goroutines: events are delivered within the
// request that asks for them.
type Server struct {
	cfg      Config
	kit      *sandboxkit.Kit
	handler  http.Handler
	tokenKey []byte // signs minted tokens; random per server so tokens never outlive it

	mu            sync.Mutex
	purchases     map[string]*purchase
	data          map[string]string
	notifications []Notification
}

// New builds a sandbox. Empty APIKey/EventSecret fall back to the sandbox defaults.
func New(cfg Config) *Server {
	def := DefaultConfig()
	if cfg.APIKey == "" {
		cfg.APIKey = def.APIKey
	}
	if cfg.EventSecret == "" {
		cfg.EventSecret = def.EventSecret
	}
	cfg = cfg.withDefaults()
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	s := &Server{
		cfg:       cfg,
		kit:       sandboxkit.New("etvas", cfg.Kit),
		tokenKey:  key,
		purchases: map[string]*purchase{},
		data:      map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokensPath, s.mintToken)
	mux.HandleFunc("POST "+EventsPath, s.sendEvent)
	mux.HandleFunc("GET "+NotificationsPath, s.listNotifications)
	api := http.NewServeMux()
	api.HandleFunc("POST /verify-token", s.verifyToken)
	api.HandleFunc("GET /user/profile", s.userProfile)
	api.HandleFunc("GET /purchase", s.purchase)
	api.HandleFunc("POST /user/notify", s.notify)
	api.HandleFunc("GET /external-data/{key}", s.getData)
	api.HandleFunc("PUT /external-data/{key}", s.putData)
	api.HandleFunc("POST /external-data/{key}", s.putData)
	api.HandleFunc("DELETE /external-data/{key}", s.deleteData)
	api.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeMessage(w, http.StatusNotFound, "Not found")
	})
	mux.Handle("/", s.authenticate(api))
	s.handler = s.kit.Wrap(mux)
	return s
}

// Handler serves the sandbox (wrapped by its Kit).
func (s *Server) Handler() http.Handler { return s.handler }

// Kit returns the journal/fault kit.
func (s *Server) Kit() *sandboxkit.Kit { return s.kit }

// Close releases the delivery client's idle connections.
func (s *Server) Close() { s.cfg.HTTPClient.CloseIdleConnections() }

// Notifications returns the notifications accepted so far.
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.notifications...)
}

// authenticate checks x-api-key (401) and, with a signing secret, x-signature (403).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(etvasapi.HeaderAPIKey)), []byte(s.cfg.APIKey)) != 1 {
			writeMessage(w, http.StatusUnauthorized, msgUnauthorized)
			return
		}
		if s.cfg.SigningSecret == "" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body) // already bounded by the kit
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "could not read body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !s.validSignature(r, body) {
			writeMessage(w, http.StatusForbidden, msgBadSignature)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) validSignature(r *http.Request, body []byte) bool {
	ts, err := strconv.ParseInt(r.Header.Get(etvasapi.HeaderTimestamp), 10, 64)
	if err != nil {
		return false
	}
	skew := s.cfg.Clock().Sub(time.Unix(ts, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > s.cfg.SignatureWindow {
		return false
	}
	return etvasapi.VerifyRequestSignature([]byte(s.cfg.SigningSecret), etvasapi.SignedRequestFrom(r, body, ts), r.Header.Get(etvasapi.HeaderSignature))
}

// MintRequest is the optional body of POST /_sandbox/tokens.
type MintRequest struct {
	ContextID  string   `json:"contextId,omitempty"`
	ProductID  string   `json:"productId,omitempty"`
	Profile    *Profile `json:"profile,omitempty"`
	TTLSeconds int      `json:"ttlSeconds,omitempty"`
}

// MintResponse is the answer of POST /_sandbox/tokens.
type MintResponse struct {
	Token     string    `json:"token"`
	ContextID string    `json:"contextId"`
	ProductID string    `json:"productId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Mint creates (or reuses) a purchase context and returns a token for it, as the
// customer portal does when the customer clicks "Use product".
func (s *Server) Mint(req MintRequest) (MintResponse, error) {
	if req.TTLSeconds < 0 {
		return MintResponse{}, errors.New("ttlSeconds must not be negative")
	}
	if req.ContextID == "" {
		req.ContextID = uuid.NewString()
	}
	if len(req.ContextID) > 128 {
		return MintResponse{}, errors.New("contextId is longer than 128 characters")
	}
	s.mu.Lock()
	p, ok := s.purchases[req.ContextID]
	if !ok {
		if req.ProductID == "" {
			req.ProductID = uuid.NewString()
		}
		p = &purchase{ContextID: req.ContextID, ProductID: req.ProductID, Status: "active", PurchasedAt: s.cfg.Clock().UTC(), profile: defaultProfile}
		s.purchases[req.ContextID] = p
	}
	if req.Profile != nil {
		p.profile = *req.Profile
	}
	productID := p.ProductID
	s.mu.Unlock()

	ttl := s.cfg.TokenTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	now := s.cfg.Clock()
	exp := now.Add(ttl)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "etvas-sandbox", Subject: req.ContextID, ID: uuid.NewString(),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}).SignedString(s.tokenKey)
	if err != nil {
		return MintResponse{}, fmt.Errorf("sign token: %w", err)
	}
	return MintResponse{Token: token, ContextID: req.ContextID, ProductID: productID, ExpiresAt: exp.UTC()}, nil
}

func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	var req MintRequest
	if err := decodeOptional(r, &req); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := s.Mint(req)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	sandboxkit.WriteJSON(w, http.StatusCreated, resp)
}

func (s *Server) verifyToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token *string `json:"token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Token == nil {
		writeMessage(w, http.StatusBadRequest, "Body must be {\"token\": string}")
		return
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(*req.Token, claims, func(*jwt.Token) (any, error) { return s.tokenKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(s.cfg.Clock), jwt.WithExpirationRequired(), jwt.WithIssuer("etvas-sandbox"))
	if err != nil {
		writeMessage(w, http.StatusUnauthorized, msgInvalidToken)
		return
	}
	p, ok := s.lookup(claims.Subject)
	if !ok || p.Status == "canceled" {
		writeMessage(w, http.StatusUnauthorized, msgInvalidToken)
		return
	}
	sandboxkit.WriteJSON(w, http.StatusOK, map[string]any{
		"contextId": p.ContextID, "productId": p.ProductID, "expiresAt": claims.ExpiresAt.Time.UTC(),
	})
}

func (s *Server) lookup(contextID string) (purchase, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.purchases[contextID]
	if !ok {
		return purchase{}, false
	}
	return *p, true
}

// contextFrom resolves x-etvas-context: 400 when missing, 404 when unknown.
func (s *Server) contextFrom(w http.ResponseWriter, r *http.Request) (purchase, bool) {
	id := r.Header.Get(etvasapi.HeaderContext)
	if id == "" {
		writeMessage(w, http.StatusBadRequest, "Missing x-etvas-context header")
		return purchase{}, false
	}
	p, ok := s.lookup(id)
	if !ok {
		writeMessage(w, http.StatusNotFound, "Context not found")
		return purchase{}, false
	}
	return p, true
}

func (s *Server) userProfile(w http.ResponseWriter, r *http.Request) {
	p, ok := s.contextFrom(w, r)
	if !ok {
		return
	}
	out := p.profile
	if r.URL.Query().Get("include") != "address" {
		out.Address = etvasapi.Address{}
	}
	sandboxkit.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) purchase(w http.ResponseWriter, r *http.Request) {
	p, ok := s.contextFrom(w, r)
	if !ok {
		return
	}
	sandboxkit.WriteJSON(w, http.StatusOK, p)
}

func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	p, ok := s.contextFrom(w, r)
	if !ok {
		return
	}
	var n struct {
		Locale, Subject, Message string
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil || n.Locale == "" || n.Subject == "" || n.Message == "" {
		writeMessage(w, http.StatusBadRequest, "Body must be {\"locale\", \"subject\", \"message\"}, all non-empty strings")
		return
	}
	s.mu.Lock()
	s.notifications = append(s.notifications, Notification{ContextID: p.ContextID, Locale: n.Locale, Subject: n.Subject, Message: n.Message, Time: s.cfg.Clock().UTC()})
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listNotifications(w http.ResponseWriter, _ *http.Request) {
	sandboxkit.WriteJSON(w, http.StatusOK, s.Notifications())
}

// dataKey validates the {key} segment with the adapter's own rule (400 otherwise).
func dataKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	if !etvasapi.ValidExternalDataKey(key) {
		writeMessage(w, http.StatusBadRequest, "Invalid key: 1-64 characters, no '/'")
		return "", false
	}
	return key, true
}

func (s *Server) getData(w http.ResponseWriter, r *http.Request) {
	key, ok := dataKey(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	v, found := s.data[key]
	s.mu.Unlock()
	var data *string
	if found {
		data = &v
	}
	sandboxkit.WriteJSON(w, http.StatusOK, map[string]*string{"data": data})
}

func (s *Server) putData(w http.ResponseWriter, r *http.Request) {
	key, ok := dataKey(w, r)
	if !ok {
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeMessage(w, http.StatusBadRequest, "Body must be {\"data\": string|null}")
		return
	}
	raw, present := body["data"]
	if !present {
		writeMessage(w, http.StatusBadRequest, "Body must be {\"data\": string|null}")
		return
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		s.mu.Lock()
		delete(s.data, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	// The limit applies to the JSON-encoded value as received.
	if len(bytes.TrimSpace(raw)) > etvasapi.MaxExternalDataValue {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Data exceeds 100K")
		return
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		writeMessage(w, http.StatusBadRequest, "data must be a string or null")
		return
	}
	s.mu.Lock()
	s.data[key] = v
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteData(w http.ResponseWriter, r *http.Request) {
	key, ok := dataKey(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.data, key)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// sendEvent builds, signs and delivers an event to the gateway and answers with the
// gateway's status and body (502 when the gateway could not be reached).
func (s *Server) sendEvent(w http.ResponseWriter, r *http.Request) {
	if s.cfg.GatewayURL == "" {
		writeMessage(w, http.StatusConflict, "no gateway URL configured: events cannot be delivered")
		return
	}
	var ev EventRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		writeMessage(w, http.StatusBadRequest, "invalid event request: "+err.Error())
		return
	}
	if err := ev.Validate(s.cfg.Clock()); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	// A purchase event means a customer just bought: the purchase context must exist, as it does
	// at Etvas, or the gateway's profile fetch for it would find nothing.
	if etvasapi.ClassifyEvent(ev.Name) == etvasapi.EventPurchased && ev.ContextID != "" {
		if _, err := s.Mint(MintRequest{ContextID: ev.ContextID, ProductID: ev.ProductID}); err != nil {
			writeMessage(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	d, err := Deliver(r.Context(), s.cfg.HTTPClient, s.cfg.GatewayURL, ev, s.cfg.APIKey, []byte(s.cfg.EventSecret))
	if err != nil {
		writeMessage(w, http.StatusBadGateway, err.Error())
		return
	}
	if d.ContentType != "" {
		w.Header().Set("Content-Type", d.ContentType)
	}
	w.Header().Set("X-Sandbox-Delivered-To", ev.Path())
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
}

func decodeOptional(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	sandboxkit.WriteJSON(w, status, map[string]string{"message": msg})
}
