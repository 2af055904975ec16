// Package scalepoint is a faithful fake of Scalepoint's EventApi and its OAuth2 token
// endpoint, for tests and `covergate sandbox`: client_credentials with client_secret or
// private_key_jwt, publish with the documented error bodies, long-poll receive, inbound
// events on demand (optionally pushed to the gateway's webhook), a request journal and
// fault injection (sandboxkit).
//
// Routes (besides sandboxkit's /_sandbox/requests and /_sandbox/faults):
//
//	POST /connect/token
//	POST /api/events/v1/{country}/external/{tenant}/send
//	GET  /api/events/v1/{country}/external/{tenant}/receive?lastEventId=_N
//	GET  /_sandbox/published    every accepted publication, in order
//	POST /_sandbox/events       enqueue an inbound event {"type","attributes","push"}
//	GET  /_sandbox/deliveries   webhook pushes to the gateway and their outcome
//	GET  /_sandbox/stats        token requests, tokens issued
//	POST /_sandbox/tokens/revoke  revoke every issued token (the next API call gets 401)
//	POST /_sandbox/publish-id   {"style":"number"|"string"|"missing"|"empty"|"text"}: how 201 carries _id
//
// Answers are the documents' example bodies field for field (testdata/ holds every example,
// testdata/index.json names its section): https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint
// and https://dev.scalepoint.com/recieve-events-using-long-polling.
package scalepoint

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox-mode development defaults; the gateway uses the same values
// when `--partners sandbox` runs without configured credentials.
const (
	DefaultClientID     = "covergate-sandbox"
	DefaultClientSecret = "sandbox-scalepoint-client-secret"
	DefaultCountry      = "dk"
	DefaultTenant       = "covergate"
	DefaultWebhookToken = "sandbox-scalepoint-webhook-token"

	ScopeEvents          = "events"
	ScopeCaseIntegration = "case_integration"

	DefaultTokenTTL     = time.Hour
	DefaultHoldTimeout  = 20 * time.Second
	DefaultPageSize     = 100
	DefaultFirstEventID = 122047

	// maxAssertionLifetime: an assertion whose exp is further away is refused (replay
	// window bound).
	maxAssertionLifetime = 5 * time.Minute
	maxBodyBytes         = 1 << 20
	// maxStored bounds kept inbound events and publications (oldest dropped first).
	maxStored = 10000
)

// The readings of the publish answer's _id (Config.PublishID).
const (
	PublishIDNumber  = "number"
	PublishIDString  = "string"
	PublishIDMissing = "missing"
	PublishIDEmpty   = "empty"
	PublishIDText    = "text"
)

// validPublishID reports whether style is one of the readings.
func validPublishID(style string) bool {
	switch style {
	case PublishIDNumber, PublishIDString, PublishIDMissing, PublishIDEmpty, PublishIDText:
		return true
	}
	return false
}

// Config configures the sandbox.
type Config struct {
	// The client registered at start (client_secret authentication). More clients, e.g.
	// with a certificate, are added with RegisterClient.
	ClientID      string
	ClientSecret  string
	AllowedScopes []string

	Country string
	Tenant  string

	// WebhookToken is the bearer token pushed events carry to {GatewayURL}/webhooks/scalepoint.
	WebhookToken string
	// GatewayURL is the gateway base URL for pushed events; empty = none are sent.
	GatewayURL string
	// PublicURL is the base URL clients use to reach this sandbox, if it differs from what
	// the request shows (proxy); client assertions may carry it as audience.
	PublicURL string

	TokenTTL     time.Duration // default 1 h
	HoldTimeout  time.Duration // long-poll hold, default 20 s
	PageSize     int           // max events per receive page, default 100
	FirstEventID int64         // id of the first inbound event, default 122047

	// PublishID is how a 201 from the send endpoint carries the new event's id. The document
	// shows {"_id": 1} and calls it "the unique value of the newly published event" without a
	// type, so every plausible reading can be switched on (also at run time, SetPublishID or
	// POST /_sandbox/publish-id): PublishIDNumber (default, the documented example),
	// PublishIDString ({"_id":"_1"}), PublishIDMissing ({}), PublishIDEmpty (no body),
	// PublishIDText (a non-JSON body).
	PublishID string

	Clock      func() time.Time // token and assertion times; default time.Now
	HTTPClient *http.Client     // for webhook pushes; default a client with a 10 s timeout
	Logger     *slog.Logger
	Kit        sandboxkit.Options
}

// DefaultConfig returns the sandbox-mode defaults.
func DefaultConfig() Config {
	return Config{
		ClientID:      DefaultClientID,
		ClientSecret:  DefaultClientSecret,
		AllowedScopes: []string{ScopeEvents, ScopeCaseIntegration},
		Country:       DefaultCountry,
		Tenant:        DefaultTenant,
		WebhookToken:  DefaultWebhookToken,
		TokenTTL:      DefaultTokenTTL,
		HoldTimeout:   DefaultHoldTimeout,
		PageSize:      DefaultPageSize,
		FirstEventID:  DefaultFirstEventID,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ClientID == "" {
		c.ClientID, c.ClientSecret = d.ClientID, d.ClientSecret
	}
	if c.WebhookToken == "" {
		c.WebhookToken = d.WebhookToken
	}
	if c.Country == "" {
		c.Country = d.Country
	}
	if c.Tenant == "" {
		c.Tenant = d.Tenant
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = d.TokenTTL
	}
	if c.HoldTimeout <= 0 {
		c.HoldTimeout = d.HoldTimeout
	}
	if c.PageSize <= 0 {
		c.PageSize = d.PageSize
	}
	if c.FirstEventID <= 0 {
		c.FirstEventID = d.FirstEventID
	}
	if len(c.AllowedScopes) == 0 {
		c.AllowedScopes = d.AllowedScopes
	}
	if !validPublishID(c.PublishID) {
		c.PublishID = PublishIDNumber // unset (or unknown): the documented example
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Client is an OAuth client the token endpoint accepts. Secret enables client_secret
// authentication, Certificate enables private_key_jwt (assertions are verified with its
// public key and must name it by x5t).
type Client struct {
	ID          string
	Secret      string
	Certificate *x509.Certificate
	Scopes      []string // allowed scopes; empty = the sandbox's AllowedScopes
}
