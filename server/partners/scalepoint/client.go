package scalepoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// Partner is the partner name in errors, metrics and logs.
const Partner = partnerName

const (
	partnerName = "scalepoint"
	opToken     = "token"
	opPublish   = "publish"
	opReceive   = "receive"

	// ContentType is the publish Content-Type the EventApi document requires.
	ContentType = "application/json;charset=utf-8"
	// ScopeEvents grants publishing and receiving events.
	ScopeEvents = "events"
	// ScopeCaseIntegration is Scalepoint's other documented scope.
	ScopeCaseIntegration = "case_integration"
)

// Defaults for Config.
const (
	DefaultPublishTimeout  = 30 * time.Second
	DefaultReceiveTimeout  = 60 * time.Second
	DefaultMaxPayloadBytes = 1 << 20
)

// Config configures the EventApi client.
type Config struct {
	BaseURL string // e.g. https://www.scalepoint.com (or the assigned project server)
	Country string // e.g. "dk"
	Tenant  string // e.g. "abcinsurance"
	OAuth   OAuthConfig
	Scopes  []string // requested for publish and receive (default ["events"])

	// PublishTimeout bounds one Publish call, all attempts included (default 30 s), also
	// bounded by the caller's ctx.
	PublishTimeout time.Duration
	// ReceiveTimeout is the per-attempt timeout of a long poll (default 60 s). It must exceed
	// the time Scalepoint holds an empty poll open, or every empty poll ends as a timeout.
	ReceiveTimeout time.Duration
	// MaxPayloadBytes refuses bigger event payloads before sending (default 1 MiB).
	MaxPayloadBytes int

	// HTTP core settings (see partnerhttp.Config). One partnerhttp client, so one circuit
	// breaker, serves publish and receive; its per-attempt timeout is ReceiveTimeout, and
	// publish attempts are bounded by PublishTimeout instead.
	HTTPClient  *http.Client
	MaxAttempts int
	Breaker     partnerhttp.BreakerConfig
	Observer    partnerhttp.Observer
	Logger      *slog.Logger
	// BaseBackoff, MaxBackoff and MaxRetryAfter are passed to partnerhttp (zero = its defaults).
	BaseBackoff   time.Duration
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Client publishes and receives EventApi events. Safe for concurrent use; it owns no
// goroutines (Close only releases idle connections).
type Client struct {
	cfg         Config
	http        *partnerhttp.Client
	tokens      *Tokens
	scopes      []string
	sendPath    string
	receivePath string
}

// pathSegment is what we allow for country and tenant: they become URL path segments.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// New validates cfg and builds the client (and its token cache).
func New(cfg Config) (*Client, error) {
	if !pathSegment.MatchString(cfg.Country) || !pathSegment.MatchString(cfg.Tenant) {
		return nil, fmt.Errorf("scalepoint: country %q and tenant %q must be plain path segments", cfg.Country, cfg.Tenant)
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.ReceiveTimeout <= 0 {
		cfg.ReceiveTimeout = DefaultReceiveTimeout
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = []string{ScopeEvents}
	}
	tokens, err := NewTokens(cfg.OAuth)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, tokens: tokens, scopes: scopes,
		sendPath:    fmt.Sprintf("/api/events/v1/%s/external/%s/send", cfg.Country, cfg.Tenant),
		receivePath: fmt.Sprintf("/api/events/v1/%s/external/%s/receive", cfg.Country, cfg.Tenant),
	}
	c.http, err = partnerhttp.New(partnerhttp.Config{
		Partner: partnerName, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		AttemptTimeout: cfg.ReceiveTimeout, MaxAttempts: cfg.MaxAttempts, Breaker: cfg.Breaker,
		Authorize: c.authorize, Observer: cfg.Observer, Logger: cfg.Logger,
		BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, MaxRetryAfter: cfg.MaxRetryAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("scalepoint: %w", err)
	}
	return c, nil
}

// Tokens exposes the token cache (e.g. for a case_integration client sharing credentials).
func (c *Client) Tokens() *Tokens { return c.tokens }

// BreakerState reports the circuit breaker ("closed", "half-open", "open").
func (c *Client) BreakerState() string { return c.http.BreakerState() }

// Close releases idle connections.
func (c *Client) Close() {
	c.http.Close()
	c.tokens.Close()
}

// usedToken records which access token an attempt carried, so a 401 invalidates exactly
// that token (and a token another caller already refreshed is kept).
type usedToken struct {
	mu    sync.Mutex
	token string
}

type usedTokenKey struct{}

func (c *Client) authorize(ctx context.Context, r *http.Request, _ []byte) error {
	tok, err := c.tokens.Token(ctx, c.scopes...)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if u, ok := ctx.Value(usedTokenKey{}).(*usedToken); ok {
		u.mu.Lock()
		u.token = tok.AccessToken
		u.mu.Unlock()
	}
	return nil
}

// do sends req; on a 401 it drops the refused token and tries once more with a fresh one
// (the API refused the call without processing it, so even a publish is safe to repeat).
func (c *Client) do(ctx context.Context, req partnerhttp.Request) (*partnerhttp.Response, error) {
	for attempt := 0; ; attempt++ {
		used := &usedToken{}
		resp, err := c.http.Do(context.WithValue(ctx, usedTokenKey{}, used), req)
		var pe *partnerhttp.Error
		if err == nil || attempt > 0 || !errors.As(err, &pe) || pe.HTTPStatus != http.StatusUnauthorized || pe.Operation == opToken {
			return resp, err
		}
		used.mu.Lock()
		refused := used.token
		used.mu.Unlock()
		c.tokens.Invalidate(refused, c.scopes...)
	}
}

// Publish sends one event and returns the id Scalepoint assigned to it, as text. payload is
// the event JSON (it must carry eventType, payloadVersion, correlationId and timestamp, with
// eventType equal to eventType); it is sent byte for byte. Publish is not idempotent on
// Scalepoint's side, so only a 429 (not processed) or a 401 (refused before processing) is
// retried; a 5xx or timeout is returned — the outbox decides, keyed by correlationId.
//
// Any 2xx answer is a success: Scalepoint has the event, and treating it as a failure would
// publish it again. The document shows `201 {"_id": 1}` without saying what type the id has,
// so the id is kept as text whatever its JSON type (number, string); a 2xx whose body is empty,
// not JSON, too large, cut off or without `_id` is still a success with an empty id.
func (c *Client) Publish(ctx context.Context, eventType string, payload []byte) (string, error) {
	if len(payload) > c.cfg.MaxPayloadBytes {
		return "", &partnerhttp.Error{
			Partner: partnerName, Operation: opPublish, Kind: partnerhttp.KindInputTooLarge,
			Err: fmt.Errorf("scalepoint: event payload is %d bytes, limit %d", len(payload), c.cfg.MaxPayloadBytes),
		}
	}
	if !pathSegment.MatchString(eventType) {
		return "", invalidEvent([]fieldProblem{{"event_type", "must be a non-empty token of letters, digits, '.', '_' or '-'"}})
	}
	if probs := checkPayload(eventType, payload); len(probs) > 0 {
		return "", invalidEvent(probs)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PublishTimeout)
	defer cancel()
	resp, err := c.do(ctx, partnerhttp.Request{
		Operation: opPublish, Method: http.MethodPost, Path: c.sendPath,
		Header:      http.Header{"Event-Type": {eventType}},
		Body:        payload,
		ContentType: ContentType,
		Idempotent:  false,
	})
	var pe *partnerhttp.Error
	if errors.As(err, &pe) && pe.HTTPStatus >= 200 && pe.HTTPStatus < 300 {
		// The answer's status said yes but its body could not be read whole (too large, cut
		// off): the event is published.
		c.cfg.logger().WarnContext(ctx, "scalepoint: publish accepted, answer body unreadable", "http_status", pe.HTTPStatus)
		return "", nil
	}
	if err != nil {
		return "", typedError(err)
	}
	id, ok := PublishedID(resp.Body)
	if !ok {
		c.cfg.logger().WarnContext(ctx, "scalepoint: publish accepted without a readable _id", "http_status", resp.Status)
	}
	return id, nil
}

// PublishedID reads `_id` from a publish answer as text: a JSON string as is, a number as
// written (`1`, `122047`), anything else (missing, null, object, not JSON) as "" with ok false.
func PublishedID(body []byte) (id string, ok bool) {
	var out struct {
		ID json.RawMessage `json:"_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if dec.Decode(&out) != nil {
		return "", false
	}
	raw := bytes.TrimSpace(out.ID)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var n json.Number
	if len(raw) > 0 && raw[0] != '"' && json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// Receive long-polls for the events after lastEventID ("" = from the start of what
// Scalepoint keeps for us). The call returns when events are available or Scalepoint ends
// the poll empty; call it again at once with Page.Next. It is retried on 502/503/504 and
// transport errors (a GET changes nothing).
func (c *Client) Receive(ctx context.Context, lastEventID string) (Page, error) {
	q := url.Values{}
	if lastEventID != "" {
		q.Set("lastEventId", lastEventID)
	}
	resp, err := c.do(ctx, partnerhttp.Request{
		Operation: opReceive, Method: http.MethodGet, Path: c.receivePath, Query: q, Idempotent: true,
	})
	if err != nil {
		return Page{}, typedError(err)
	}
	page, err := parsePage(resp.Body, lastEventID)
	if err != nil {
		return Page{}, badResponse(opReceive, resp.Status, err)
	}
	return page, nil
}

func badResponse(op string, httpStatus int, err error) error {
	return &partnerhttp.Error{
		Partner: partnerName, Operation: op, HTTPStatus: httpStatus, Kind: partnerhttp.KindBadResponse, Err: err,
	}
}
