// Package etvas is the Etvas sandbox: a real HTTP server that behaves like the Etvas
// platform API as the public docs and SDK describe it (verify-token, user profile,
// purchase, user notify, external data, API-key checks, optional request signatures),
// mints tokens for tests, and delivers signed events to the gateway on demand.
package etvas

import (
	"net/http"
	"time"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox-mode development defaults (partners-common.md). The gateway uses the same
// values when it runs with --partners sandbox and nothing is configured.
const (
	DefaultAPIKey      = "sandbox-etvas-api-key"
	DefaultEventSecret = "sandbox-etvas-event-secret"
)

// Config is what the sandbox accepts and signs with.
type Config struct {
	APIKey        string // x-api-key the sandbox accepts
	EventSecret   string // HMAC key of x-etvas-signature on events it delivers
	SigningSecret string // when set, every API call must carry a valid x-signature (403 otherwise)
	GatewayURL    string // base URL events are delivered to; empty = none sent

	TokenTTL        time.Duration    // lifetime of minted tokens (default 1h, like Etvas)
	SignatureWindow time.Duration    // accepted x-timestamp skew (default 5 min)
	Clock           func() time.Time // default time.Now
	HTTPClient      *http.Client     // for event delivery (default: 10s timeout, ≤5 redirects)
	Kit             sandboxkit.Options
}

// DefaultConfig returns the sandbox-mode defaults: API key sandbox-etvas-api-key, event
// secret sandbox-etvas-event-secret, no request signing, no gateway.
func DefaultConfig() Config {
	return Config{APIKey: DefaultAPIKey, EventSecret: DefaultEventSecret}
}

func (c Config) withDefaults() Config {
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
