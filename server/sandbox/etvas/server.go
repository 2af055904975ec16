package etvas

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox control paths (never journaled or faulted).
const (
	TokensPath        = "/_sandbox/tokens"
	EventsPath        = "/_sandbox/events"
	NotificationsPath = "/_sandbox/notifications"
)

// Error bodies. The documents show no error answer; the sandbox answers
// {"message": "..."} with these texts.
const (
	msgUnauthorized = "Unauthorized"
	msgInvalidToken = "Invalid token"
	msgBadSignature = "Invalid signature"
)

// Purchase states the sandbox keeps per context (GET /purchase answers them).
const (
	PurchaseActive    = "active"
	PurchaseSuspended = "suspended"
	PurchaseCanceled  = "canceled"
	PurchaseFailed    = "failed" // the partner refused product.purchased (App document: "Failed Purchase")
)

// Address is a postal address, in the developer portal's user fields.
type Address struct {
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	RegionState string `json:"region/state,omitempty"`
	Country     string `json:"country,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
}

// Profile is a sandbox customer: the App profile's four fields, the address returned with
// ?include=address, and the portal-only salutation and date of birth.
type Profile struct {
	Salutation  string `json:"salutation,omitempty"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	DateOfBirth string `json:"dateOfBirth,omitempty"`
	Address
}

// defaultProfile is the customer behind a context minted without a profile (fictional).
var defaultProfile = Profile{
	Salutation: "Ms.", FirstName: "Erika", LastName: "Mustermann", Email: "erika.mustermann@example.com",
	PhoneNumber: "+4930123456789", DateOfBirth: "1984-08-12",
	Address: Address{Address1: "Heidestraße 17", City: "Berlin", RegionState: "Berlin", Country: "Germany", PostalCode: "10557"},
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

	mu             sync.Mutex
	readings       Readings
	purchases      map[string]*purchase
	data           map[string]string
	notifications  []Notification
	userPartner    map[string]string // Etvas user id → partner's id (answer to user.create)
	productPartner map[string]string // user id + "\x00" + product id → partner's id (answer to product.purchase)
}

// New builds a sandbox. Empty APIKey/EventSecret fall back to the sandbox defaults. It
// panics if cfg.Readings is invalid (a programming error: check untrusted readings with
// Readings.Normalize first).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	readings, err := cfg.Readings.Normalize()
	if err != nil {
		panic("etvas sandbox: " + err.Error())
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	s := &Server{
		cfg:            cfg,
		kit:            sandboxkit.New("etvas", cfg.Kit),
		tokenKey:       key,
		readings:       readings,
		purchases:      map[string]*purchase{},
		data:           map[string]string{},
		userPartner:    map[string]string{},
		productPartner: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokensPath, s.mintToken)
	mux.HandleFunc("POST "+EventsPath, s.sendEvent)
	mux.HandleFunc("GET "+NotificationsPath, s.listNotifications)
	mux.HandleFunc(ReadingsPath, s.serveReadings)
	api := http.NewServeMux()
	api.HandleFunc("POST "+PathVerifyToken, s.verifyToken)
	api.HandleFunc("GET "+PathUserProfile, s.userProfile)
	api.HandleFunc("GET "+PathPurchase, s.purchase)
	api.HandleFunc("POST "+PathUserNotify, s.notify)
	api.HandleFunc(PathExternalData+"{key}", s.externalData)
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

// ExternalData returns the value stored under key at the sandbox (found false when none).
func (s *Server) ExternalData(key string) (value string, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	value, found = s.data[key]
	return value, found
}

// PurchaseStatus returns the sandbox's status of a purchase context.
func (s *Server) PurchaseStatus(contextID string) (string, bool) {
	p, ok := s.lookup(contextID)
	return p.Status, ok
}

// authenticate checks x-api-key (401) and, with a signing secret, x-signature (403).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(headerAPIKey)), []byte(s.cfg.APIKey)) != 1 {
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
		if !validRequestSignature(r, body, []byte(s.cfg.SigningSecret), s.cfg.Clock(), s.cfg.SignatureWindow) {
			writeMessage(w, http.StatusForbidden, msgBadSignature)
			return
		}
		next.ServeHTTP(w, r)
	})
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

// Mint creates (or reuses) a purchase context and returns a token for it, as the customer
// portal does when the customer clicks "Use product".
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
		p = &purchase{ContextID: req.ContextID, ProductID: req.ProductID, Status: PurchaseActive, PurchasedAt: s.cfg.Clock().UTC(), profile: defaultProfile}
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
	token, exp, err := s.token(req.ContextID, ttl)
	if err != nil {
		return MintResponse{}, err
	}
	return MintResponse{Token: token, ContextID: req.ContextID, ProductID: productID, ExpiresAt: exp.UTC()}, nil
}

// token signs a token for contextID. Etvas's tokens are JWTs the partner must not decode
// but verify with Etvas; these are too, signed with a key only this server knows.
func (s *Server) token(contextID string, ttl time.Duration) (string, time.Time, error) {
	now := s.cfg.Clock()
	exp := now.Add(ttl)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "etvas-sandbox", Subject: contextID, ID: uuid.NewString(),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}).SignedString(s.tokenKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, exp, nil
}

func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	var req MintRequest
	if err := decodeStrict(r, &req); err != nil {
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

// verifyToken answers {"contextId": ...} for a token this sandbox minted, unexpired, whose
// purchase is not canceled or failed; 401 "Invalid token" otherwise.
func (s *Server) verifyToken(w http.ResponseWriter, r *http.Request) {
	var req verifyTokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Token == nil {
		writeMessage(w, http.StatusBadRequest, `Body must be {"token": string}`)
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
	if !ok || p.Status == PurchaseCanceled || p.Status == PurchaseFailed {
		writeMessage(w, http.StatusUnauthorized, msgInvalidToken)
		return
	}
	sandboxkit.WriteJSON(w, http.StatusOK, verifyTokenAnswer{ContextID: p.ContextID})
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
	id := r.Header.Get(headerContext)
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
	base := profileAnswer{FirstName: p.profile.FirstName, LastName: p.profile.LastName, Email: p.profile.Email, PhoneNumber: p.profile.PhoneNumber}
	if r.URL.Query().Get("include") != "address" {
		sandboxkit.WriteJSON(w, http.StatusOK, base)
		return
	}
	a := p.profile.Address
	sandboxkit.WriteJSON(w, http.StatusOK, profileWithAddress{
		profileAnswer: base, Address1: a.Address1, Address2: a.Address2, City: a.City,
		RegionState: a.RegionState, Country: a.Country, PostalCode: a.PostalCode,
	})
}

// purchase answers GET /purchase. No document shows this answer; the sandbox answers the
// context, product, status and purchase time.
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
	var n notifyRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil || strings.TrimSpace(n.Locale) == "" || strings.TrimSpace(n.Subject) == "" || strings.TrimSpace(n.Message) == "" {
		writeMessage(w, http.StatusBadRequest, `Body must be {"locale", "subject", "message"}, all non-empty strings`)
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

// validKey is the sandbox's key rule: 1–64 characters (partner notes), usable as one URL
// path segment (no '/'), no control characters.
func validKey(key string) bool {
	if key == "" || !utf8.ValidString(key) || utf8.RuneCountInString(key) > MaxExternalDataKey || strings.Contains(key, "/") {
		return false
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// externalData serves /external-data/{key}: GET reads ({"data": null} when nothing is
// stored), the write method of the readings writes ({"data": null} clears), DELETE clears.
// Writes and clears answer 200 with no body, as documented.
func (s *Server) externalData(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	write := s.Readings().ExternalDataWrite
	allowed := "GET, " + write + ", DELETE"
	if write == WriteMethodAny {
		allowed = "GET, POST, PUT, DELETE"
	}
	switch {
	case r.Method == http.MethodGet, r.Method == http.MethodDelete:
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && (write == WriteMethodAny || write == r.Method):
	default:
		w.Header().Set("Allow", allowed)
		writeMessage(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !validKey(key) {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf("Invalid key: 1-%d characters, no '/'", MaxExternalDataKey))
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		v, found := s.data[key]
		s.mu.Unlock()
		answer := externalData{}
		if found {
			answer.Data = &v
		}
		sandboxkit.WriteJSON(w, http.StatusOK, answer)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.data, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		s.writeData(w, r, key)
	}
}

func (s *Server) writeData(w http.ResponseWriter, r *http.Request, key string) {
	const shape = `Body must be {"data": string|null}`
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeMessage(w, http.StatusBadRequest, shape)
		return
	}
	raw, present := body["data"]
	if !present {
		writeMessage(w, http.StatusBadRequest, shape)
		return
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		s.mu.Lock()
		delete(s.data, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	// The limit applies to the JSON-encoded value ("the resulting JSON"), as received.
	if len(raw) > MaxExternalDataValue {
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

// sendEvent builds, signs and delivers an event to the gateway under the readings in
// force, and answers with the gateway's status and body (502 when the gateway could not be
// reached).
func (s *Server) sendEvent(w http.ResponseWriter, r *http.Request) {
	if s.cfg.GatewayURL == "" {
		writeMessage(w, http.StatusConflict, "no gateway URL configured: events cannot be delivered")
		return
	}
	var ev EventRequest
	if err := decodeStrict(r, &ev); err != nil {
		writeMessage(w, http.StatusBadRequest, "invalid event request: "+err.Error())
		return
	}
	d, err := s.Deliver(r.Context(), ev)
	var bad *badEventError
	switch {
	case errors.As(err, &bad):
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
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

// badEventError is an event request the sandbox refuses before sending anything.
type badEventError struct{ err error }

func (e *badEventError) Error() string { return e.err.Error() }
func (e *badEventError) Unwrap() error { return e.err }

// Deliver sends ev to the configured gateway as Etvas would, under the readings in force,
// and updates the sandbox's state the way Etvas's would change: a purchase creates its
// context first (the partner fetches the buyer's profile) and fails if the partner refuses
// it (the event is formal); cancel, suspend and resume change the purchase's status
// whatever the answer (they are informal); portal answers' partner ids are remembered and
// sent with later portal events.
func (s *Server) Deliver(ctx context.Context, ev EventRequest) (Delivery, error) {
	if s.cfg.GatewayURL == "" {
		return Delivery{}, errors.New("etvas sandbox: no gateway URL configured")
	}
	if err := ev.Validate(s.cfg.Clock()); err != nil {
		return Delivery{}, &badEventError{err}
	}
	name := normalName(ev.Name)
	if purchaseEvents[name] {
		if _, err := s.Mint(MintRequest{ContextID: ev.ContextID, ProductID: ev.ProductID}); err != nil {
			return Delivery{}, &badEventError{err}
		}
	}
	x := portalExtras{profile: defaultProfile}
	if p, ok := s.lookup(ev.ContextID); ok {
		x.profile = p.profile
	}
	if ev.Format == FormatPortal {
		tok, exp, err := s.token(ev.ContextID, s.cfg.TokenTTL)
		if err != nil {
			return Delivery{}, err
		}
		x.token, x.expires = tok, exp
		s.mu.Lock()
		if ev.UserPartnerID == "" {
			ev.UserPartnerID = s.userPartner[ev.UserID]
		}
		if ev.ProductPartnerID == "" {
			ev.ProductPartnerID = s.productPartner[ev.UserID+"\x00"+ev.ProductID]
		}
		s.mu.Unlock()
	}
	out, err := signedEvent(ev, s.Readings(), s.cfg.APIKey, []byte(s.cfg.EventSecret), x)
	if err != nil {
		return Delivery{}, err
	}
	switch {
	case cancelEvents[name]:
		s.setStatus(ev.ContextID, PurchaseCanceled)
	case suspendEvents[name]:
		s.setStatus(ev.ContextID, PurchaseSuspended)
	case resumeEvents[name]:
		s.setStatus(ev.ContextID, PurchaseActive)
	}
	d, err := Send(ctx, s.cfg.HTTPClient, s.cfg.GatewayURL, out)
	if err != nil {
		if purchaseEvents[name] {
			s.setStatus(ev.ContextID, PurchaseFailed)
		}
		return d, err
	}
	ok := d.Status >= 200 && d.Status <= 299
	if purchaseEvents[name] {
		status := PurchaseFailed
		if ok {
			status = PurchaseActive
		}
		s.setStatus(ev.ContextID, status)
	}
	if ok && ev.Format == FormatPortal {
		s.rememberPartnerIDs(ev, d.Body)
	}
	return d, nil
}

func (s *Server) setStatus(contextID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.purchases[contextID]; ok {
		p.Status = status
	}
}

// rememberPartnerIDs keeps the ids the partner answered a portal event with: "We will
// include any key-value pairs that are transmitted in the Data section of the Response to
// the User Created event in every subsequent request" (developer portal, User Created).
func (s *Server) rememberPartnerIDs(ev EventRequest, answer []byte) {
	var a portalAnswer
	if json.Unmarshal(answer, &a) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Data != nil && a.Data.User != nil && a.Data.User.PartnerID != "" {
		s.userPartner[ev.UserID] = a.Data.User.PartnerID
	} else if a.User != nil && a.User.PartnerID != "" {
		s.userPartner[ev.UserID] = a.User.PartnerID
	}
	if a.Data != nil && a.Data.Product != nil && a.Data.Product.PartnerID != "" {
		s.productPartner[ev.UserID+"\x00"+ev.ProductID] = a.Data.Product.PartnerID
	}
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	sandboxkit.WriteJSON(w, status, map[string]string{"message": msg})
}
