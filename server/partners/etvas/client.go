// Package etvas is the typed client for the Etvas platform API: token verification
// (with a short cache), user profile, purchase, user notifications, external data, and
// the helpers that sign and verify Etvas requests and webhooks.
//
// Every error is a *partnerhttp.Error (the API edge, apierror, gives the gRPC code and ErrorInfo).
// Errors from the HTTP core are returned unwrapped: they already name the partner and the
// operation, and wrapping them would change the gRPC status message. Input errors detected
// before a call also wrap a sentinel (ErrValueTooLarge, ErrInvalidKey, ...) for errors.Is.
package etvas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// Partner is the partner label used in metrics, logs and ErrorInfo.
const Partner = "etvas"

// Limits the platform enforces, checked before any call.
const (
	MaxExternalDataKey   = 64         // characters
	MaxExternalDataValue = 100 * 1024 // bytes of the JSON-encoded value
	maxTokenBytes        = 8 << 10    // no real JWT is this long; refuse before calling
	maxContextIDBytes    = 128
)

// Defaults for Config.
const (
	DefaultBaseURL         = "https://api.etvas.com"
	DefaultVerifyCacheTTL  = 10 * time.Minute
	DefaultVerifyCacheSize = 10000
)

// Operation labels.
const (
	OpVerifyToken        = "verify_token"
	OpUserProfile        = "user_profile"
	OpPurchase           = "purchase"
	OpUserNotify         = "user_notify"
	OpGetExternalData    = "external_data_get"
	OpPutExternalData    = "external_data_put"
	OpDeleteExternalData = "external_data_delete"
)

// Input errors, detected before any call. Returned wrapped in a *partnerhttp.Error
// (kind rejected or input too large), so both errors.Is and errors.As work.
var (
	ErrValueTooLarge  = errors.New("etvas: external data value exceeds 100 KB after JSON encoding")
	ErrInvalidKey     = errors.New("etvas: external data key must be 1-64 characters without '/', '\\', control characters or dot segments")
	ErrInvalidContext = errors.New("etvas: context id must be 1-128 printable characters")
	ErrInvalidToken   = errors.New("etvas: token is empty or malformed")
	ErrInvalidNotice  = errors.New("etvas: notification needs a locale, a subject and a message")
)

// Ways to clear an external-data value (Config.ExternalDataDelete).
const (
	ExternalDataDeleteNull   = "null"   // write {"data": null}
	ExternalDataDeleteMethod = "DELETE" // DELETE /external-data/{key}
)

// Config configures the Etvas client.
type Config struct {
	BaseURL string // default https://api.etvas.com
	APIKey  string // required
	// SigningSecret enables request signing (x-signature, x-timestamp) when non-empty.
	SigningSecret string
	// ExternalDataWriteMethod is POST (the Etvas App document, default) or PUT (the SDK):
	// the sources disagree, so it is configurable here and in the sandbox.
	ExternalDataWriteMethod string
	// ExternalDataDelete is how a value is cleared: ExternalDataDeleteNull (default) writes
	// {"data": null} with the write method, ExternalDataDeleteMethod sends DELETE. The App
	// document gives both; the null write needs no second method to be right.
	ExternalDataDelete string
	VerifyCacheTTL     time.Duration // default 10 min (the SDK's)
	VerifyCacheSize    int           // entries; default 10000

	// HTTP core settings (see partnerhttp.Config).
	HTTPClient     *http.Client
	AttemptTimeout time.Duration
	MaxAttempts    int
	BaseBackoff    time.Duration
	MaxBackoff     time.Duration
	MaxRetryAfter  time.Duration
	Breaker        partnerhttp.BreakerConfig
	Observer       partnerhttp.Observer
	Logger         *slog.Logger
	Clock          func() time.Time // signing timestamps and cache expiry (default time.Now)
}

// Client calls the Etvas API. Safe for concurrent use.
type Client struct {
	http        *partnerhttp.Client
	apiKey      string
	secret      []byte
	writeMethod string
	deleteHow   string
	clock       func() time.Time
	cache       *verifyCache
}

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("etvas: config: API key is required")
	}
	switch strings.ToUpper(cfg.ExternalDataWriteMethod) {
	case "":
		cfg.ExternalDataWriteMethod = http.MethodPost
	case http.MethodPut, http.MethodPost:
		cfg.ExternalDataWriteMethod = strings.ToUpper(cfg.ExternalDataWriteMethod)
	default:
		return nil, fmt.Errorf("etvas: config: external data write method must be POST or PUT, not %q", cfg.ExternalDataWriteMethod)
	}
	switch {
	case cfg.ExternalDataDelete == "" || strings.EqualFold(cfg.ExternalDataDelete, ExternalDataDeleteNull):
		cfg.ExternalDataDelete = ExternalDataDeleteNull
	case strings.EqualFold(cfg.ExternalDataDelete, ExternalDataDeleteMethod):
		cfg.ExternalDataDelete = ExternalDataDeleteMethod
	default:
		return nil, fmt.Errorf("etvas: config: external data delete must be %q or %q, not %q", ExternalDataDeleteNull, ExternalDataDeleteMethod, cfg.ExternalDataDelete)
	}
	if cfg.VerifyCacheTTL <= 0 {
		cfg.VerifyCacheTTL = DefaultVerifyCacheTTL
	}
	if cfg.VerifyCacheSize <= 0 {
		cfg.VerifyCacheSize = DefaultVerifyCacheSize
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	c := &Client{
		apiKey:      cfg.APIKey,
		writeMethod: cfg.ExternalDataWriteMethod,
		deleteHow:   cfg.ExternalDataDelete,
		clock:       cfg.Clock,
		cache:       newVerifyCache(cfg.VerifyCacheTTL, cfg.VerifyCacheSize, cfg.Clock),
	}
	if cfg.SigningSecret != "" {
		c.secret = []byte(cfg.SigningSecret)
	}
	hc, err := partnerhttp.New(partnerhttp.Config{
		Partner:        Partner,
		BaseURL:        cfg.BaseURL,
		HTTPClient:     cfg.HTTPClient,
		AttemptTimeout: cfg.AttemptTimeout,
		MaxAttempts:    cfg.MaxAttempts,
		Breaker:        cfg.Breaker,
		Authorize:      c.authorize,
		Observer:       cfg.Observer,
		Logger:         cfg.Logger,
		BaseBackoff:    cfg.BaseBackoff,
		MaxBackoff:     cfg.MaxBackoff,
		MaxRetryAfter:  cfg.MaxRetryAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("etvas: %w", err)
	}
	c.http = hc
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.Close() }

// BreakerState exposes the circuit breaker state ("closed", "half-open", "open").
func (c *Client) BreakerState() string { return c.http.BreakerState() }

// authorize adds the API key and, when a secret is configured, signs the request. It runs
// per attempt, so a retried request carries a fresh timestamp.
func (c *Client) authorize(_ context.Context, r *http.Request, body []byte) error {
	r.Header.Set(HeaderAPIKey, c.apiKey)
	if c.secret == nil {
		return nil
	}
	ts := c.clock().Unix()
	r.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(HeaderSignature, RequestSignature(c.secret, SignedRequestFrom(r, body, ts)))
	return nil
}

// request builds a partnerhttp.Request with the headers every Etvas call carries.
func (c *Client) request(op, method, path, contextID string, body []byte, idempotent bool) partnerhttp.Request {
	h := http.Header{}
	if contextID != "" {
		h.Set(HeaderContext, contextID)
	}
	if body == nil && method == http.MethodPost {
		body = []byte("{}") // signing hashes an empty POST body as {}, so send exactly that
	}
	return partnerhttp.Request{
		Operation: op, Method: method, Path: path, Header: h, Body: body,
		ContentType: "application/json", Idempotent: idempotent,
	}
}

// Verification is the result of a successful token verification.
type Verification struct {
	ContextID string
	// Fields holds every field of the answer (contextId included), undecoded, because the
	// documented answer is open-ended ("contextId, ...").
	Fields map[string]json.RawMessage
}

// VerifyToken verifies an Etvas App token and returns its context (purchase) id.
// Successful verifications are cached for VerifyCacheTTL keyed by SHA-256(token); failures
// never are. A token Etvas refuses is the customer's problem: UNAUTHENTICATED with reason
// PARTNER_REJECTED.
func (c *Client) VerifyToken(ctx context.Context, token string) (Verification, error) {
	if token == "" || len(token) > maxTokenBytes || !isPrintableASCII(token) {
		return Verification{}, c.tokenRejected(inputError(OpVerifyToken, KindTokenRejected, ErrInvalidToken))
	}
	key := sha256.Sum256([]byte(token))
	if v, ok := c.cache.get(key); ok {
		return v, nil
	}
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return Verification{}, fmt.Errorf("etvas: verify token: encode: %w", err)
	}
	// Verification reads state only, so it is safe to retry.
	var fields map[string]json.RawMessage
	if err := c.http.DoJSON(ctx, c.request(OpVerifyToken, http.MethodPost, "/verify-token", "", body, true), nil, &fields); err != nil {
		return Verification{}, c.verifyError(err)
	}
	var contextID string
	if raw, ok := fields["contextId"]; !ok || json.Unmarshal(raw, &contextID) != nil || contextID == "" {
		return Verification{}, badResponse(OpVerifyToken, errors.New("answer has no contextId"))
	}
	v := Verification{ContextID: contextID, Fields: fields}
	c.cache.put(key, v)
	return v, nil
}

// verifyError turns a refusal of the token into the customer's authentication failure.
// A 401 saying "Unauthorized" is Etvas refusing our API key, and a 403 while we sign (or
// one that names the signature) is our signature: those stay PARTNER_AUTH_FAILED
// (UNAVAILABLE), the customer cannot fix them.
func (c *Client) verifyError(err error) error {
	var perr *partnerhttp.Error
	if !errors.As(err, &perr) {
		return err
	}
	switch perr.HTTPStatus {
	case http.StatusBadRequest:
	case http.StatusUnauthorized:
		if strings.EqualFold(perr.PartnerMessage, "Unauthorized") {
			return err
		}
	case http.StatusForbidden:
		if c.secret != nil || strings.Contains(strings.ToLower(perr.PartnerMessage), "signature") {
			return err
		}
	default:
		return err
	}
	return c.tokenRejected(perr)
}

// KindTokenRejected: Etvas (or our own check) refused a customer's token; the customer,
// not our configuration, is at fault.
const KindTokenRejected partnerhttp.Kind = "etvas: token rejected"

func (c *Client) tokenRejected(perr *partnerhttp.Error) *partnerhttp.Error {
	out := *perr
	out.Kind = KindTokenRejected
	out.PartnerMessage = "token rejected"
	return &out
}

// Address is the postal address returned with ?include=address. Field names follow the
// developer-portal user object; the public docs do not show the profile's address shape.
type Address struct {
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	RegionState string `json:"region/state,omitempty"`
	Country     string `json:"country,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
}

// Profile is the customer's profile for one purchase context. It is personal data: never
// log it.
type Profile struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	Address
}

// UserProfile fetches the profile of the customer behind contextID, with the address when
// includeAddress is set.
func (c *Client) UserProfile(ctx context.Context, contextID string, includeAddress bool) (Profile, error) {
	if err := checkContextID(OpUserProfile, contextID); err != nil {
		return Profile{}, err
	}
	req := c.request(OpUserProfile, http.MethodGet, "/user/profile", contextID, nil, true)
	if includeAddress {
		req.Query = url.Values{"include": {"address"}}
	}
	var p Profile
	if err := c.http.DoJSON(ctx, req, nil, &p); err != nil {
		return Profile{}, err // already names partner and operation
	}
	return p, nil
}

// Purchase is the purchase behind a context. The public docs do not describe the answer,
// so the known fields are decoded and the whole answer is kept in Fields.
type Purchase struct {
	ContextID string
	ProductID string
	Status    string
	Fields    map[string]json.RawMessage
}

// Purchase fetches the purchase behind contextID.
func (c *Client) Purchase(ctx context.Context, contextID string) (Purchase, error) {
	if err := checkContextID(OpPurchase, contextID); err != nil {
		return Purchase{}, err
	}
	var fields map[string]json.RawMessage
	if err := c.http.DoJSON(ctx, c.request(OpPurchase, http.MethodGet, "/purchase", contextID, nil, true), nil, &fields); err != nil {
		return Purchase{}, err // already names partner and operation
	}
	p := Purchase{Fields: fields}
	for name, dst := range map[string]*string{"contextId": &p.ContextID, "productId": &p.ProductID, "status": &p.Status} {
		if raw, ok := fields[name]; ok {
			_ = json.Unmarshal(raw, dst) // a non-string value stays in Fields only
		}
	}
	return p, nil
}

// Notification is a message Etvas shows/sends to the customer.
type Notification struct {
	Locale  string `json:"locale"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// Notify sends a notification to the customer behind contextID. Not retried on
// 5xx/timeouts: a retry could notify the customer twice.
func (c *Client) Notify(ctx context.Context, contextID string, n Notification) error {
	if err := checkContextID(OpUserNotify, contextID); err != nil {
		return err
	}
	if strings.TrimSpace(n.Locale) == "" || len(n.Locale) > 35 || strings.TrimSpace(n.Subject) == "" || strings.TrimSpace(n.Message) == "" {
		return inputError(OpUserNotify, partnerhttp.KindRejected, ErrInvalidNotice)
	}
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("etvas: notify: encode: %w", err)
	}
	if _, err := c.http.Do(ctx, c.request(OpUserNotify, http.MethodPost, "/user/notify", contextID, body, false)); err != nil {
		return err // already names partner and operation
	}
	return nil
}

// GetExternalData reads the value stored under key; found is false when nothing is
// stored (Etvas answers {"data": null} rather than 404).
func (c *Client) GetExternalData(ctx context.Context, key string) (value string, found bool, err error) {
	path, err := externalDataPath(OpGetExternalData, key)
	if err != nil {
		return "", false, err
	}
	var out struct {
		Data *string `json:"data"`
	}
	if err := c.http.DoJSON(ctx, c.request(OpGetExternalData, http.MethodGet, path, "", nil, true), nil, &out); err != nil {
		return "", false, err // already names partner and operation
	}
	if out.Data == nil {
		return "", false, nil
	}
	return *out.Data, true, nil
}

// PutExternalData stores value under key, replacing what was there. The size limit is
// checked on the JSON-encoded value before any call. Writing the same value twice has
// the same effect, so the write is retried like a read.
func (c *Client) PutExternalData(ctx context.Context, key, value string) error {
	path, err := externalDataPath(OpPutExternalData, key)
	if err != nil {
		return err
	}
	if !utf8.ValidString(value) {
		return inputError(OpPutExternalData, partnerhttp.KindRejected, errors.New("etvas: external data value must be valid UTF-8"))
	}
	encoded, err := encodeJSON(value)
	if err != nil {
		return fmt.Errorf("etvas: put external data: encode: %w", err)
	}
	if len(encoded) > MaxExternalDataValue {
		return inputError(OpPutExternalData, partnerhttp.KindInputTooLarge,
			fmt.Errorf("%w: %d bytes encoded, at most %d", ErrValueTooLarge, len(encoded), MaxExternalDataValue))
	}
	body := append(append([]byte(`{"data":`), encoded...), '}')
	if _, err := c.http.Do(ctx, c.request(OpPutExternalData, c.writeMethod, path, "", body, true)); err != nil {
		return err // already names partner and operation
	}
	return nil
}

// EncodedValueSize is what Etvas's 100 KB limit measures: the length of value once
// JSON-encoded as PutExternalData sends it (quotes and escapes included).
func EncodedValueSize(value string) int {
	encoded, err := encodeJSON(value)
	if err != nil { // a string always encodes; count it as too large if it ever does not
		return MaxExternalDataValue + 1
	}
	return len(encoded)
}

// DeleteExternalData clears the value stored under key (no error if there was none): by
// writing {"data": null} (the default) or with DELETE, as configured. Clearing twice has
// the same effect as once, so it is retried like a read.
func (c *Client) DeleteExternalData(ctx context.Context, key string) error {
	path, err := externalDataPath(OpDeleteExternalData, key)
	if err != nil {
		return err
	}
	req := c.request(OpDeleteExternalData, http.MethodDelete, path, "", nil, true)
	if c.deleteHow == ExternalDataDeleteNull {
		req = c.request(OpDeleteExternalData, c.writeMethod, path, "", []byte(`{"data":null}`), true)
	}
	if _, err := c.http.Do(ctx, req); err != nil {
		return err // already names partner and operation
	}
	return nil
}

// ValidExternalDataKey reports whether key is acceptable: 1-64 characters, valid UTF-8,
// no path separators, control characters or dot segments (a key is one URL path segment).
func ValidExternalDataKey(key string) bool {
	if key == "" || !utf8.ValidString(key) || utf8.RuneCountInString(key) > MaxExternalDataKey {
		return false
	}
	if key == "." || key == ".." || strings.ContainsAny(key, `/\`) {
		return false
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func externalDataPath(op, key string) (string, error) {
	if !ValidExternalDataKey(key) {
		return "", inputError(op, partnerhttp.KindRejected, ErrInvalidKey)
	}
	return "/external-data/" + url.PathEscape(key), nil
}

func checkContextID(op, contextID string) error {
	if contextID == "" || len(contextID) > maxContextIDBytes || !isPrintableASCII(contextID) {
		return inputError(op, partnerhttp.KindRejected, ErrInvalidContext)
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// encodeJSON encodes v without HTML escaping: the partner stores what it receives, and
// \u003c escapes would eat into the 100 KB budget for nothing.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func inputError(op string, kind partnerhttp.Kind, err error) *partnerhttp.Error {
	return &partnerhttp.Error{Partner: Partner, Operation: op, Kind: kind, Err: err}
}

func badResponse(op string, err error) *partnerhttp.Error {
	return &partnerhttp.Error{
		Partner: Partner, Operation: op, HTTPStatus: http.StatusOK,
		Kind: partnerhttp.KindBadResponse, Err: err,
	}
}
