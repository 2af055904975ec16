// Package avata is a faithful fake of Avata's insurance API for tests and
// `covergate sandbox`. It serves exactly the adapter's path table
// (server/partners/avata/paths.go), checks the api key, the wallet JWT and
// request bodies against the API reference's rules, prices proposals
// deterministically, keeps state (proposals become policies, claims
// progress) and sends signed policy-update / claim-update callbacks to the
// gateway. sandboxkit adds the request journal and fault injection.
//
// Routes besides the path table and sandboxkit's /_sandbox/requests and
// /_sandbox/faults:
//
//	POST /_sandbox/policies/{uuid}/status {"status":"REJECTED"}  set a policy status (+ callback)
//	POST /_sandbox/claims/{uuid}/status   {"status":"APPROVED"}  set a claim status (+ callback)
//	POST /_sandbox/tokens/revoke                                 revoke every wallet JWT issued so far
//	GET  /_sandbox/deliveries                                    callbacks sent to the gateway and their outcome
//
// Pricing: policyPrice = totalValue × 2.5 % (exact decimal), coverage 100 %,
// duration 365 days (NFT and booking).
package avata

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Sandbox-mode development defaults (partners-common.md); the gateway uses the
// same values when `--partners sandbox` runs without configured credentials.
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

	maxJSONBody    = 1 << 20
	maxUploadBody  = 25 << 20
	maxFileBytes   = 10 << 20
	maxNoncesPerPK = 16
	maxDeliveries  = 1000
)

// Config configures the sandbox.
type Config struct {
	APIKey       string
	APIKeyHeader string // default avata.DefaultAPIKeyHeader
	// BrandID, when set, is the only X-Brand-Id accepted (the header itself
	// stays optional, as documented).
	BrandID        string
	CallbackSecret string
	// GatewayURL is the gateway base URL callbacks are POSTed to
	// ({GatewayURL}/webhooks/avata); empty = no callbacks are sent.
	GatewayURL string
	// JWTSecret signs wallet JWTs (HS256); empty = a random secret per Server.
	JWTSecret []byte

	// PolicyAcceptDelay: a confirmed policy is PENDING for this long, then
	// ACCEPTED with a policy-update callback. 0 = immediately.
	PolicyAcceptDelay time.Duration
	// ClaimSteps are the statuses a new claim moves through, one every
	// ClaimStepDelay, each with a claim-update callback. Empty = the claim
	// stays CREATED until /_sandbox/claims/{uuid}/status moves it.
	ClaimSteps     []avata.ClaimStatus
	ClaimStepDelay time.Duration

	TokenTTL time.Duration // wallet JWT lifetime, default 15 min
	NonceTTL time.Duration // sign-in nonce lifetime, default 5 min

	// DocumentedClaimBodies makes create-claim and claim-status answer exactly the documented
	// bodies, which carry no claim uuid (create: {"claim":{reason, createdDate, files, email,
	// status, policy}}; status: {"claim":{status, policy:{uuid}}}): the uuid then only reaches
	// the gateway through claim-update callbacks. Off: both answers include "uuid".
	DocumentedClaimBodies bool

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
		PolicyAcceptDelay: DefaultPolicyAcceptDelay,
		ClaimSteps:        []avata.ClaimStatus{avata.ClaimPending, avata.ClaimReviewed, avata.ClaimApproved},
		ClaimStepDelay:    DefaultClaimStepDelay,
	}
}

func (c Config) withDefaults() Config {
	c.ClaimSteps = append([]avata.ClaimStatus(nil), c.ClaimSteps...) // the caller keeps its slice
	if c.APIKeyHeader == "" {
		c.APIKeyHeader = avata.DefaultAPIKeyHeader
	}
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
	if c.PolicyAcceptDelay < 0 {
		c.PolicyAcceptDelay = 0
	}
	if c.ClaimStepDelay < 0 {
		c.ClaimStepDelay = 0
	}
	return c
}
