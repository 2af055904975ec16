// Package avata is the typed client for Avata's insurance API: proposals and
// confirmations for NFT, booking and digital-asset cover, policy activation
// and queries, wallet sign-in, claims, KYC, the merchant-claim link and the
// verification of Avata's callbacks.
//
// Paths and the api-key header name are our assumption (see paths.go). Every
// call goes through partnerhttp (timeouts, retries where safe, circuit
// breaker, gRPC error mapping); failures are returned as *Error.
package avata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// PartnerName labels metrics, logs and ErrorInfo metadata.
const PartnerName = "avata"

// Defaults applied by New.
const (
	DefaultChainID            = 1 // Ethereum mainnet
	DefaultTokenRefreshMargin = 30 * time.Second
	DefaultTokenFallbackTTL   = 5 * time.Minute
	DefaultMaxUploadBytes     = 20 << 20
)

// Config configures the Avata client. APIKey and MerchantWalletKey are
// secrets: LogValue redacts them.
type Config struct {
	BaseURL      string // e.g. https://api.avata.gg
	APIKey       string
	APIKeyHeader string // default DefaultAPIKeyHeader; "Authorization" gives way to the wallet JWT on wallet calls
	// Paths is the route table (paths.go); zero routes take DefaultPaths.
	Paths   Paths
	BrandID string // sent as X-Brand-Id when set
	// MerchantWalletKey is the merchant wallet's hex private key; it signs
	// merchant-claim links. Optional: without it MerchantClaimLink fails.
	MerchantWalletKey string
	ChainID           int64  // chain of wallet sign-in and wallet queries (default 1)
	PortalURL         string // merchant-claim portal base (default DefaultPortalURL)

	// HTTP carries the shared HTTP core settings (HTTPClient, AttemptTimeout,
	// MaxAttempts, Breaker, Observer, Logger, backoff). Partner, BaseURL and
	// Authorize are set by New and ignored here.
	HTTP partnerhttp.Config

	// TokenRefreshMargin: a cached wallet JWT is replaced this long before its
	// exp (default 30s), so it never expires in flight.
	TokenRefreshMargin time.Duration
	// TokenFallbackTTL is used for a JWT whose exp cannot be read (default 5m).
	TokenFallbackTTL time.Duration
	// MaxUploadBytes bounds the total size of one claim document upload
	// (default 20 MiB); larger uploads fail before any call.
	MaxUploadBytes int64
	// Now is the clock for JWT expiry (default time.Now).
	Now func() time.Time
}

// LogValue keeps the secrets out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("api_key", redacted(c.APIKey)),
		slog.String("brand_id", c.BrandID),
		slog.String("merchant_wallet_key", redacted(c.MerchantWalletKey)),
		slog.Int64("chain_id", c.ChainID),
	)
}

// String and GoString keep the secrets out of %v / %+v / %#v.
func (c Config) String() string {
	return fmt.Sprintf("avata.Config{BaseURL:%s APIKey:%s BrandID:%s MerchantWalletKey:%s ChainID:%d}",
		c.BaseURL, redacted(c.APIKey), c.BrandID, redacted(c.MerchantWalletKey), c.ChainID)
}

// GoString: see String.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Signer signs wallet sign-in nonces. *ethsign.Wallet implements it; a
// custodial or HSM-backed wallet can too.
type Signer interface {
	Address() string
	SignMessage(msg string) (string, error)
}

// Client talks to Avata. It is safe for concurrent use.
type Client struct {
	cfg      Config
	http     *partnerhttp.Client
	merchant *ethsign.Wallet
	tokens   *tokenCache
}

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("avata: config: api key is required")
	}
	if cfg.APIKeyHeader == "" {
		cfg.APIKeyHeader = DefaultAPIKeyHeader
	}
	if cfg.ChainID == 0 {
		cfg.ChainID = DefaultChainID
	}
	paths, err := cfg.Paths.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Paths = paths
	if cfg.PortalURL == "" {
		cfg.PortalURL = DefaultPortalURL
	}
	if u, err := url.Parse(cfg.PortalURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("avata: config: portal URL must be an absolute http(s) URL")
	}
	if cfg.TokenRefreshMargin <= 0 {
		cfg.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if cfg.TokenFallbackTTL <= 0 {
		cfg.TokenFallbackTTL = DefaultTokenFallbackTTL
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, tokens: &tokenCache{entries: map[string]cachedToken{}}}
	if cfg.MerchantWalletKey != "" {
		w, err := ethsign.NewWallet(cfg.MerchantWalletKey)
		if err != nil {
			return nil, fmt.Errorf("avata: config: merchant wallet: %w", err)
		}
		c.merchant = w
	}
	hc := cfg.HTTP
	hc.Partner = PartnerName
	hc.BaseURL = cfg.BaseURL
	hc.Authorize = c.authorize
	client, err := partnerhttp.New(hc)
	if err != nil {
		return nil, fmt.Errorf("avata: %w", err)
	}
	c.http = client
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.Close() }

// BreakerState reports the circuit breaker state ("closed", "half-open", "open").
func (c *Client) BreakerState() string { return c.http.BreakerState() }

// MerchantWallet returns the configured merchant wallet, or nil.
func (c *Client) MerchantWallet() *ethsign.Wallet { return c.merchant }

// authorize adds the api key and brand headers to every attempt. A header the
// request already carries wins: with APIKeyHeader "Authorization", a wallet
// call's "Bearer <JWT>" must not be replaced by the api key.
func (c *Client) authorize(_ context.Context, r *http.Request, _ []byte) error {
	if r.Header.Get(c.cfg.APIKeyHeader) == "" {
		r.Header.Set(c.cfg.APIKeyHeader, c.cfg.APIKey)
	}
	if c.cfg.BrandID != "" {
		r.Header.Set(HeaderBrandID, c.cfg.BrandID)
	}
	return nil
}

// request builds the partnerhttp request of an operation from its route.
func request(op string, r Route, idempotent bool) partnerhttp.Request {
	return partnerhttp.Request{Operation: op, Method: r.Method, Path: r.Path, Idempotent: idempotent}
}

// call sends a JSON request and maps failures to *Error. On a GET route the
// documented body fields travel as query parameters of the same names.
func (c *Client) call(ctx context.Context, req partnerhttp.Request, in, out any) error {
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if req.Method == http.MethodGet && in != nil {
		q, err := queryOf(in)
		if err != nil {
			return inputError(req.Operation, partnerhttp.KindInternal, err)
		}
		if req.Query == nil {
			req.Query = url.Values{}
		}
		for k, v := range q {
			req.Query[k] = v
		}
		in = nil
	}
	if err := c.http.DoJSON(ctx, req, in, out); err != nil {
		return wrapError(err)
	}
	return nil
}

// queryOf turns a flat JSON object into query parameters: strings as they
// are, numbers and booleans as their JSON text; null fields are left out.
func queryOf(in any) (url.Values, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode query: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("query: body is not an object: %w", err)
	}
	q := url.Values{}
	for k, v := range fields {
		switch {
		case string(v) == "null":
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("query %s: %w", k, err)
			}
			q.Set(k, s)
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			return nil, fmt.Errorf("query %s: nested values cannot be sent as query parameters", k)
		default:
			q.Set(k, string(v))
		}
	}
	return q, nil
}

// ProposeNFT asks for a proposal for an NFT purchase. Proposals change no
// state at Avata, so they are retried like reads.
func (c *Client) ProposeNFT(ctx context.Context, req NFTProposalRequest) (*Proposal, error) {
	var out Proposal
	err := c.call(ctx, request("nft_proposal", c.cfg.Paths.NFTProposal, true), req, &out)
	return resultOrNil(&out, err)
}

// ConfirmNFT confirms an NFT proposal; the answer's ID is the policy UUID.
func (c *Client) ConfirmNFT(ctx context.Context, req NFTConfirmRequest) (*Confirmation, error) {
	if err := requireID("nft_confirm", "proposal.id", req.Proposal.ID); err != nil {
		return nil, err
	}
	var out Confirmation
	err := c.call(ctx, request("nft_confirm", c.cfg.Paths.NFTConfirm, false), req, &out)
	return resultOrNil(&out, err)
}

// ProposeBooking asks for a proposal for a booking.
func (c *Client) ProposeBooking(ctx context.Context, req BookingProposalRequest) (*Proposal, error) {
	if req.NFTIDs == nil {
		req.NFTIDs = []json.RawMessage{} // required by Avata, even when empty
	}
	var out Proposal
	err := c.call(ctx, request("booking_proposal", c.cfg.Paths.BookingProposal, true), req, &out)
	return resultOrNil(&out, err)
}

// ConfirmBooking confirms a booking proposal.
func (c *Client) ConfirmBooking(ctx context.Context, req BookingConfirmRequest) (*Confirmation, error) {
	if err := requireID("booking_confirm", "proposal.id", req.Proposal.ID); err != nil {
		return nil, err
	}
	var out Confirmation
	err := c.call(ctx, request("booking_confirm", c.cfg.Paths.BookingConfirm, false), req, &out)
	return resultOrNil(&out, err)
}

// ProposeDigitalAsset asks for a proposal for a digital asset.
func (c *Client) ProposeDigitalAsset(ctx context.Context, req DigitalAssetProposalRequest) (*Proposal, error) {
	var out Proposal
	err := c.call(ctx, request("digital_asset_proposal", c.cfg.Paths.DigitalAssetProposal, true), req, &out)
	return resultOrNil(&out, err)
}

// ConfirmDigitalAsset confirms a digital-asset proposal.
func (c *Client) ConfirmDigitalAsset(ctx context.Context, req DigitalAssetConfirmRequest) (*Confirmation, error) {
	if err := requireID("digital_asset_confirm", "proposal.id", req.Proposal.ID); err != nil {
		return nil, err
	}
	var out Confirmation
	err := c.call(ctx, request("digital_asset_confirm", c.cfg.Paths.DigitalAssetConfirm, false), req, &out)
	return resultOrNil(&out, err)
}

// ActivatePolicy activates a policy and cancels the booking it covers.
func (c *Client) ActivatePolicy(ctx context.Context, req ActivatePolicyRequest) (*ActivatePolicyResponse, error) {
	if err := requireID("policy_activate", "policyUuid", req.PolicyUUID); err != nil {
		return nil, err
	}
	// The reference documents no answer to activation: an empty body (204 or
	// an empty 2xx) is success too, and any JSON object is accepted.
	r := request("policy_activate", c.cfg.Paths.PolicyActivate, false)
	body, err := json.Marshal(req)
	if err != nil {
		return nil, inputError(r.Operation, partnerhttp.KindInternal, err)
	}
	r.Body, r.ContentType = body, "application/json"
	resp, err := c.http.Do(ctx, r)
	if err != nil {
		return nil, wrapError(err)
	}
	var out ActivatePolicyResponse
	if len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := partnerhttp.DecodeJSON(resp.Body, &out); err != nil {
			return nil, badResponse("policy_activate", fmt.Errorf("decode response: %w", err))
		}
	}
	return &out, nil
}

// PolicyRequestStatus asks where a policy request stands.
func (c *Client) PolicyRequestStatus(ctx context.Context, policyUUID string) (*PolicyRequestStatus, error) {
	if err := requireID("policy_request_status", "uuid", policyUUID); err != nil {
		return nil, err
	}
	var out PolicyRequestStatus
	err := c.call(ctx, request("policy_request_status", c.cfg.Paths.PolicyRequestStatus, true),
		map[string]string{"uuid": policyUUID}, &out)
	return resultOrNil(&out, err)
}

// PolicyDetails fetches a policy.
func (c *Client) PolicyDetails(ctx context.Context, policyUUID string) (*Policy, error) {
	if err := requireID("policy_details", "uuid", policyUUID); err != nil {
		return nil, err
	}
	var out PolicyEnvelope
	err := c.call(ctx, request("policy_details", c.cfg.Paths.PolicyDetails, true),
		map[string]string{"uuid": policyUUID}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Policy, nil
}

// SubmitKYC sends KYC information for a policy; Avata echoes the request.
func (c *Client) SubmitKYC(ctx context.Context, req KYCRequest) (*KYCRequest, error) {
	if err := requireID("kyc", "policyUuid", req.PolicyUUID); err != nil {
		return nil, err
	}
	if err := requireID("kyc", "provider", req.Provider); err != nil {
		return nil, err
	}
	var out KYCRequest
	err := c.call(ctx, request("kyc", c.cfg.Paths.KYC, false), req, &out)
	return resultOrNil(&out, err)
}

// MerchantClaimLink returns the merchant-claim page URL for a policy:
// {portal}/merchant-claim/{policyUuid}/{signature of policyUuid by the
// merchant wallet}, the signature in ethers signMessage form.
func (c *Client) MerchantClaimLink(policyUUID string) (string, error) {
	if err := requireID("merchant_claim_link", "policyUuid", policyUUID); err != nil {
		return "", err
	}
	if c.merchant == nil {
		return "", errors.New("avata: merchant claim link: no merchant wallet configured")
	}
	sig, err := c.merchant.SignMessage(policyUUID)
	if err != nil {
		return "", fmt.Errorf("avata: merchant claim link: %w", err)
	}
	return c.ClaimLink(policyUUID, sig)
}

// ClaimLink returns the merchant-claim page URL for a policy with a signature
// of the policy uuid made by the policy owner's wallet (a customer's own
// wallet signs in the frontend). The caller checks whose signature it is
// (ethsign.VerifyMessage); here it is only put into ethers' canonical form.
func (c *Client) ClaimLink(policyUUID, signature string) (string, error) {
	if err := requireID("merchant_claim_link", "policyUuid", policyUUID); err != nil {
		return "", err
	}
	sig, err := ethsign.CanonicalSignature(signature)
	if err != nil {
		return "", inputError("merchant_claim_link", KindWalletSignatureMalformed, err)
	}
	return strings.TrimRight(c.cfg.PortalURL, "/") + "/merchant-claim/" + url.PathEscape(policyUUID) + "/" + sig, nil
}

func resultOrNil[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxIDLen bounds identifiers we put into bodies and links.
const maxIDLen = 256

// requireID rejects empty or absurd identifiers before any call is made.
func requireID(op, field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return inputError(op, partnerhttp.KindRejected,
			fmt.Errorf("%s is required", field))
	case len(v) > maxIDLen:
		return inputError(op, partnerhttp.KindInputTooLarge,
			fmt.Errorf("%s is longer than %d bytes", field, maxIDLen))
	}
	return nil
}

// inputError is an error detected before calling Avata, shaped like the
// partner errors so the API layer maps every failure the same way.
func inputError(op string, kind partnerhttp.Kind, err error) error {
	return &Error{HTTP: &partnerhttp.Error{
		Partner: PartnerName, Operation: op, Kind: kind, Err: err,
	}}
}
