// Package avata is a fake of Avata's insurance API (reference v0.12.0,
// https://documentation.demo.avata.gg) for tests and `covergate sandbox`.
//
// It is a second, independent reading of the reference: it imports nothing
// from the adapter (server/partners/avata), has its own wire types and its
// own path tables, and answers with the documented example shapes field for
// field — including what the examples leave out (the create-claim and
// claim-status answers carry no claim uuid). Where the reference is silent
// (paths, methods, api-key header, duplicate claims, ...) it offers every
// plausible reading (readings.go), chosen in Config.Readings and switchable
// at run time. It keeps state (proposals become policies, claims progress),
// verifies wallet sign-ins (EIP-191, server/ethsign) and sends signed
// policy-update / claim-update callbacks to the gateway. sandboxkit adds the
// request journal and fault injection.
//
// Control routes besides sandboxkit's /_sandbox/requests and /_sandbox/faults:
//
//	GET    /_sandbox/readings                  the active readings and every value offered
//	POST   /_sandbox/readings {"paths":"rest"} switch some readings (the others stay)
//	DELETE /_sandbox/readings                  back to the configured readings
//	POST   /_sandbox/policies/{uuid}/status {"status":"REJECTED"}  set a policy status (+ callback)
//	POST   /_sandbox/claims/{uuid}/status   {"status":"APPROVED"}  set a claim status (+ callback)
//	POST   /_sandbox/tokens/revoke             revoke every wallet JWT issued so far
//	GET    /_sandbox/deliveries                callbacks sent to the gateway and their outcome
//
// Pricing: policyPrice = totalValue × 2.5 % (exact decimal), coverage 100 %,
// a term of 365 days.
package avata

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox-mode development defaults; the gateway uses the same values when
// `--partners sandbox` runs without configured credentials.
const (
	DefaultAPIKey         = "sandbox-avata-api-key"
	DefaultBrandID        = "covergate"
	DefaultCallbackSecret = "sandbox-avata-callback-secret"
	// DefaultMerchantWalletKey is Hardhat/Anvil account #0: a published
	// development key that must never hold real funds.
	DefaultMerchantWalletKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	DefaultMerchantWallet    = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

	DefaultPolicyAcceptDelay = 200 * time.Millisecond
	DefaultClaimStepDelay    = 200 * time.Millisecond
	DefaultTokenTTL          = 15 * time.Minute
	DefaultNonceTTL          = 5 * time.Minute
	DefaultCallbackAttempts  = 4
	DefaultCallbackBackoff   = 100 * time.Millisecond

	// CallbackPath is where callbacks go, relative to GatewayURL.
	CallbackPath = "/webhooks/avata"
	// CallbackSignatureHeader carries hex(HMAC-SHA256(callback secret, raw
	// body)). Avata documents no callback authentication; Covergate requires
	// this shared-secret signature, so the sandbox sends it.
	CallbackSignatureHeader = "X-Avata-Signature"
	// BrandHeader is the optional header every documented call lists.
	BrandHeader = "X-Brand-Id"

	maxJSONBody    = 1 << 20
	maxUploadBody  = 25 << 20
	maxFileBytes   = 10 << 20
	maxNoncesPerPK = 16
	maxDeliveries  = 1000
)

// Config configures the sandbox.
type Config struct {
	APIKey string
	// BrandID, when set, is the only X-Brand-Id accepted (the header itself
	// stays optional, as documented).
	BrandID        string
	CallbackSecret string
	// GatewayURL is the gateway base URL callbacks are POSTed to
	// ({GatewayURL}/webhooks/avata); empty = no callbacks are sent.
	GatewayURL string
	// JWTSecret signs wallet JWTs (HS256); empty = a random secret per Server.
	JWTSecret []byte
	// Readings picks one reading per point the reference is silent on; zero
	// fields take DefaultReadings. /_sandbox/readings changes them at run time.
	Readings Readings

	// PolicyAcceptDelay: a confirmed policy is PENDING for this long, then
	// ACCEPTED with a policy-update callback. 0 = immediately.
	PolicyAcceptDelay time.Duration
	// ClaimSteps are the claim statuses a new claim moves through, one every
	// ClaimStepDelay, each with a claim-update callback. Empty = the claim
	// stays CREATED until /_sandbox/claims/{uuid}/status moves it.
	ClaimSteps     []string
	ClaimStepDelay time.Duration

	TokenTTL time.Duration // wallet JWT lifetime, default 15 min
	NonceTTL time.Duration // sign-in nonce lifetime, default 5 min

	CallbackAttempts int           // delivery attempts per callback on non-2xx/transport errors (default 4)
	CallbackBackoff  time.Duration // first retry wait, doubled per retry (default 100 ms)

	Clock      func() time.Time // default time.Now
	HTTPClient *http.Client     // for callbacks; default a client with a 10 s timeout
	Logger     *slog.Logger
	Kit        sandboxkit.Options
}

// DefaultConfig returns the sandbox-mode defaults; set GatewayURL to have
// callbacks delivered.
func DefaultConfig() Config {
	return Config{
		APIKey:            DefaultAPIKey,
		BrandID:           DefaultBrandID,
		CallbackSecret:    DefaultCallbackSecret,
		Readings:          DefaultReadings(),
		PolicyAcceptDelay: DefaultPolicyAcceptDelay,
		ClaimSteps:        []string{ClaimPending, ClaimReviewed, ClaimApproved},
		ClaimStepDelay:    DefaultClaimStepDelay,
	}
}

func (c Config) withDefaults() Config {
	c.ClaimSteps = append([]string(nil), c.ClaimSteps...) // the caller keeps its slice
	c.Readings = DefaultReadings().merge(c.Readings)
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.NonceTTL <= 0 {
		c.NonceTTL = DefaultNonceTTL
	}
	if c.CallbackAttempts <= 0 {
		c.CallbackAttempts = DefaultCallbackAttempts
	}
	if c.CallbackBackoff <= 0 {
		c.CallbackBackoff = DefaultCallbackBackoff
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
	c.PolicyAcceptDelay = max(c.PolicyAcceptDelay, 0)
	c.ClaimStepDelay = max(c.ClaimStepDelay, 0)
	return c
}
