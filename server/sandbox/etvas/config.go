// Package etvas is the Etvas sandbox: a real HTTP server that behaves like the Etvas
// platform as its two public documents describe it — the developer portal
// (https://www.etvas.com/developers) and the Etvas App documentation
// (https://www.etvas.com/en-us/developers/developers/, SDK https://github.com/etvascom/etvas-sdk)
// — plus the facts the project gathered beyond them (API-key checks, optional request
// signatures, user notifications).
//
// It is a second, independent reading of those documents: it imports nothing from the
// Etvas adapter (server/partners/etvas), so the adapter and the sandbox agree only where
// both follow the documents. Its answers are the documented example bodies, field for
// field (testdata/documented holds every example, with an index naming document and
// section). Where the documents are silent the sandbox can be switched, in its Config or at
// run time through POST /_sandbox/readings, to each plausible reading (see Readings).
//
// Served API: POST /verify-token, GET /user/profile, GET /purchase, POST /user/notify,
// GET|POST|PUT|DELETE /external-data/{key}. Control endpoints (never journaled, never
// faulted): POST /_sandbox/tokens (mint a portal token), POST /_sandbox/events (deliver a
// signed event to the gateway), GET /_sandbox/notifications, GET|POST|DELETE
// /_sandbox/readings, and the kit's /_sandbox/requests and /_sandbox/faults.
package etvas

import (
	"net/http"
	"time"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox-mode development defaults. The gateway uses the same values when it runs with
// --partners sandbox and nothing is configured.
const (
	DefaultAPIKey      = "sandbox-etvas-api-key"
	DefaultEventSecret = "sandbox-etvas-event-secret"
)

// Config is what the sandbox accepts and signs with.
type Config struct {
	APIKey        string // x-api-key the sandbox accepts and sends with events
	EventSecret   string // HMAC key of x-etvas-signature on the events it delivers
	SigningSecret string // when set, every API call must carry a valid x-signature (403 otherwise)
	GatewayURL    string // base URL events are delivered to; empty = none sent

	// Readings picks, for each point the documents leave open, the reading the sandbox
	// follows; the zero value is DefaultReadings. POST /_sandbox/readings changes it at run
	// time.
	Readings Readings

	TokenTTL        time.Duration    // lifetime of minted tokens (default 1h, like Etvas)
	SignatureWindow time.Duration    // accepted x-timestamp skew (default 5 min)
	Clock           func() time.Time // default time.Now
	HTTPClient      *http.Client     // for event delivery (default: 10s timeout, ≤5 redirects)
	Kit             sandboxkit.Options
}

// DefaultConfig returns the sandbox-mode defaults: API key sandbox-etvas-api-key, event
// secret sandbox-etvas-event-secret, no request signing, no gateway, default readings.
func DefaultConfig() Config {
	return Config{APIKey: DefaultAPIKey, EventSecret: DefaultEventSecret}
}

func (c Config) withDefaults() Config {
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.EventSecret == "" {
		c.EventSecret = DefaultEventSecret
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.SignatureWindow <= 0 {
		c.SignatureWindow = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Kit.Clock == nil {
		c.Kit.Clock = c.Clock
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewDeliveryClient()
	}
	return c
}
