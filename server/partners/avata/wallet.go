package avata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// Wallet-scoped calls (policies for a wallet, claims) need a JWT obtained by
// signing a one-time nonce with the wallet: GET nonce → signMessage(nonce) →
// POST token. The JWT is cached per wallet address until shortly before its
// exp; a 401 on a wallet call drops it and signs in once more.

// tokenCache holds one JWT per wallet address. singleflight makes concurrent
// callers for the same wallet share one sign-in (each sign-in burns a nonce).
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]cachedToken
	group   singleflight.Group
}

type cachedToken struct {
	token  string
	expiry time.Time
}

func (tc *tokenCache) get(addr string, now time.Time, margin time.Duration) (string, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[addr]
	if !ok || !now.Add(margin).Before(e.expiry) {
		return "", false
	}
	return e.token, true
}

func (tc *tokenCache) put(addr string, t cachedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.entries[addr] = t
}

// drop forgets addr's token, but only if it is still the one that failed: a
// concurrent caller may already have stored a fresh one.
func (tc *tokenCache) drop(addr, token string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if e, ok := tc.entries[addr]; ok && e.token == token {
		delete(tc.entries, addr)
	}
}

// Nonce asks Avata for a sign-in nonce for a wallet address on the configured chain.
func (c *Client) Nonce(ctx context.Context, publicKey string) (string, error) {
	return c.NonceOnChain(ctx, publicKey, c.cfg.ChainID)
}

// ChainID is the configured chain of wallet sign-in and wallet queries.
func (c *Client) ChainID() int64 { return c.cfg.ChainID }

// NonceOnChain asks Avata for a sign-in nonce for a wallet address on chainID (0 = the
// configured chain).
func (c *Client) NonceOnChain(ctx context.Context, publicKey string, chainID int64) (string, error) {
	if err := requireID("auth_nonce", "publicKey", publicKey); err != nil {
		return "", err
	}
	if chainID <= 0 {
		chainID = c.cfg.ChainID
	}
	q := url.Values{"publicKey": {publicKey}, "chainId": {strconv.FormatInt(chainID, 10)}}
	var out NonceResponse
	r := request("auth_nonce", c.cfg.Paths.AuthNonce, true)
	r.Query = q
	err := c.call(ctx, r, nil, &out)
	if err != nil {
		return "", err
	}
	if out.Nonce == "" {
		return "", badResponse("auth_nonce", errors.New("empty nonce"))
	}
	return out.Nonce, nil
}

// SignIn performs a fresh nonce sign-in for signer and caches the JWT. Most
// callers never need it: wallet-scoped methods sign in on demand.
func (c *Client) SignIn(ctx context.Context, signer Signer) (string, error) {
	if signer == nil {
		return "", inputError("auth_token", partnerhttp.KindInvalidCall,
			errors.New("no wallet signer"))
	}
	addr := signer.Address()
	nonce, err := c.Nonce(ctx, addr)
	if err != nil {
		return "", err
	}
	sig, err := signer.SignMessage(nonce)
	if err != nil {
		return "", inputError("auth_token", partnerhttp.KindInternal,
			fmt.Errorf("sign nonce: %w", err))
	}
	tok, expiry, err := c.exchange(ctx, addr, sig, c.cfg.ChainID)
	if err != nil {
		return "", err
	}
	c.tokens.put(strings.ToLower(addr), cachedToken{token: tok, expiry: expiry})
	return tok, nil
}

// exchange posts a signed nonce and returns the access token with its expiry.
func (c *Client) exchange(ctx context.Context, addr, sig string, chainID int64) (string, time.Time, error) {
	var out SignInResponse
	// Not idempotent: the nonce is single use, so a blind retry would fail.
	err := c.call(ctx, request("auth_token", c.cfg.Paths.AuthToken, false),
		SignInRequest{Signature: sig, ChainID: chainID, PublicKey: addr}, &out)
	if err != nil {
		return "", time.Time{}, err
	}
	if out.AccessToken == "" {
		return "", time.Time{}, badResponse("auth_token", errors.New("empty access token"))
	}
	return out.AccessToken, c.TokenExpiry(out.AccessToken), nil
}

// ExchangeSignature exchanges a nonce signed by a customer's own wallet (the frontend had the
// wallet sign it) for Avata's access token. Nothing is cached: the caller keeps the token (see
// TokenExp for its expiry). Avata refusing the signature (401/403) is FAILED_PRECONDITION
// WALLET_SIGNATURE_INVALID, not an authentication failure of ours.
func (c *Client) ExchangeSignature(ctx context.Context, address, signature string, chainID int64) (string, error) {
	if err := requireID("auth_token", "publicKey", address); err != nil {
		return "", err
	}
	if err := requireID("auth_token", "signature", signature); err != nil {
		return "", err
	}
	if chainID <= 0 {
		chainID = c.cfg.ChainID
	}
	tok, _, err := c.exchange(ctx, address, signature, chainID)
	var aerr *Error
	if errors.As(err, &aerr) && (aerr.HTTP.HTTPStatus == http.StatusUnauthorized || aerr.HTTP.HTTPStatus == http.StatusForbidden) {
		aerr.HTTP.Kind = KindWalletSignatureInvalid
	}
	return tok, err
}

// TokenExp reads exp from an Avata access token (a JWT) without verifying it:
// we are not its audience, we only need to know when to sign in again. ok is
// false when the token is not a JWT or has no exp.
func TokenExp(token string) (exp time.Time, ok bool) {
	claims := jwt.RegisteredClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err == nil && claims.ExpiresAt != nil {
		return claims.ExpiresAt.Time, true
	}
	return time.Time{}, false
}

// TokenExpiry is TokenExp, or now + TokenFallbackTTL for a token without a
// readable exp.
func (c *Client) TokenExpiry(token string) time.Time {
	if exp, ok := TokenExp(token); ok {
		return exp
	}
	return c.cfg.Now().Add(c.cfg.TokenFallbackTTL)
}

// Wallet is whose wallet a wallet-scoped call acts for: a Signer (our merchant
// wallet: the adapter signs in itself, caching the token) or an AccessToken (a
// customer's wallet that signed in through the frontend).
type Wallet interface {
	Address() string
}

// AccessToken is a customer wallet's Avata access token, obtained by
// ExchangeSignature and kept by the caller. The adapter cannot renew it: when
// Avata refuses it (401) the call fails with FAILED_PRECONDITION
// WALLET_SESSION_EXPIRED and the customer must sign in again.
type AccessToken struct {
	Wallet  string // 0x address the token was issued for
	ChainID int64  // chain of the sign-in (0 = configured chain)
	Token   string
}

// Address implements Wallet.
func (t AccessToken) Address() string { return t.Wallet }

// String keeps the token out of logs and errors.
func (t AccessToken) String() string { return "avata.AccessToken(" + t.Wallet + ", token=REDACTED)" }

// GoString keeps the token out of %#v.
func (t AccessToken) GoString() string { return t.String() }

// LogValue keeps slog from printing the token.
func (t AccessToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("wallet", t.Wallet), slog.String("token", "REDACTED"))
}

// walletToken returns the JWT for w: an AccessToken's own, or a cached one
// for a Signer (signing in once for all concurrent callers of the wallet).
func (c *Client) walletToken(ctx context.Context, w Wallet) (string, error) {
	if t, ok := w.(AccessToken); ok {
		if t.Token == "" {
			return "", inputError("auth_token", KindWalletSignInRequired,
				errors.New("no access token for the wallet"))
		}
		return t.Token, nil
	}
	signer, _ := w.(Signer)
	if signer == nil {
		return "", inputError("auth_token", partnerhttp.KindInvalidCall,
			errors.New("no wallet signer"))
	}
	key := strings.ToLower(signer.Address())
	if tok, ok := c.tokens.get(key, c.cfg.Now(), c.cfg.TokenRefreshMargin); ok {
		return tok, nil
	}
	// A caller whose ctx ends while another one's sign-in is running gets
	// that sign-in's result; the shared call itself runs under the first
	// caller's ctx, bounded by partnerhttp's attempt timeouts.
	v, err, _ := c.tokens.group.Do(key, func() (any, error) {
		if tok, ok := c.tokens.get(key, c.cfg.Now(), c.cfg.TokenRefreshMargin); ok {
			return tok, nil
		}
		return c.SignIn(ctx, signer)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// walletCall runs a wallet-scoped request with a bearer JWT and, on 401,
// signs in again and retries exactly once (a 401 means Avata did not process
// the request, so even a non-idempotent call is safe to repeat).
func (c *Client) walletCall(ctx context.Context, signer Wallet, req partnerhttp.Request, in, out any) error {
	if signer == nil {
		return inputError(req.Operation, partnerhttp.KindInvalidCall, errors.New("no wallet"))
	}
	_, customer := signer.(AccessToken)
	for attempt := 0; ; attempt++ {
		tok, err := c.walletToken(ctx, signer)
		if err != nil {
			return err
		}
		r := req
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		err = c.call(ctx, r, in, out)
		var aerr *Error
		if !errors.As(err, &aerr) {
			return err
		}
		switch {
		case aerr.HTTP.HTTPStatus == http.StatusUnauthorized && customer:
			// A customer's token cannot be renewed here: the customer signs in again.
			aerr.HTTP.Kind = KindWalletSessionExpired
		case aerr.HTTP.HTTPStatus == http.StatusUnauthorized && attempt == 0:
			c.tokens.drop(strings.ToLower(signer.Address()), tok)
			continue
		case aerr.HTTP.HTTPStatus == http.StatusForbidden:
			// With a valid wallet JWT, 403 means "not your policy": the
			// caller's request is wrong, not our credentials (partnerhttp's
			// default for 403), so the caller must not see UNAVAILABLE.
			aerr.HTTP.Kind = partnerhttp.KindForbidden
		}
		return err
	}
}

// PoliciesForWallet lists the policies of the wallet on its chain (an
// AccessToken's chain, else the configured one).
func (c *Client) PoliciesForWallet(ctx context.Context, signer Wallet) ([]Policy, error) {
	if signer == nil {
		return nil, inputError("policies_for_wallet", partnerhttp.KindInvalidCall,
			errors.New("no wallet signer"))
	}
	chainID := c.cfg.ChainID
	if t, ok := signer.(AccessToken); ok && t.ChainID > 0 {
		chainID = t.ChainID
	}
	var out PoliciesForWalletResponse
	err := c.walletCall(ctx, signer, request("policies_for_wallet", c.cfg.Paths.PoliciesForWallet, true), PoliciesForWalletRequest{Wallet: signer.Address(), ChainID: chainID}, &out)
	if err != nil {
		return nil, err
	}
	policies := make([]Policy, 0, len(out.Policies))
	for _, p := range out.Policies {
		policies = append(policies, p.Policy)
	}
	return policies, nil
}

// UploadClaimDocuments uploads claim documents for a policy as
// multipart/form-data; the returned keys (one per file, in order) go into
// CreateClaimRequest.Files.
func (c *Client) UploadClaimDocuments(ctx context.Context, signer Wallet, policyUUID string, files []UploadFile) (*UploadResponse, error) {
	const op = "claim_upload"
	if err := requireID(op, "policyUuid", policyUUID); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, inputError(op, partnerhttp.KindInvalidCall, errors.New("no wallet signer"))
	}
	body, contentType, err := c.multipartBody(op, policyUUID, signer.Address(), files)
	if err != nil {
		return nil, err
	}
	var out UploadResponse
	r := request(op, c.cfg.Paths.ClaimUpload, false)
	r.Body, r.ContentType = body, contentType
	err = c.walletCall(ctx, signer, r, nil, &out)
	if err != nil {
		return nil, err
	}
	if len(out.Keys) != len(files) {
		return nil, badResponse(op, fmt.Errorf("got %d keys for %d files", len(out.Keys), len(files)))
	}
	return &out, nil
}

// multipartBody renders the upload form, checking names, types and the total
// size before anything is sent.
func (c *Client) multipartBody(op, policyUUID, publicKey string, files []UploadFile) ([]byte, string, error) {
	if len(files) == 0 {
		return nil, "", inputError(op, partnerhttp.KindRejected,
			errors.New("at least one file is required"))
	}
	var total int64
	for i, f := range files {
		total += int64(len(f.Content))
		switch {
		case strings.TrimSpace(f.Name) == "" || len(f.Name) > maxIDLen || strings.ContainsAny(f.Name, "/\\\x00\r\n"):
			return nil, "", inputError(op, partnerhttp.KindRejected,
				fmt.Errorf("file %d: name must be a plain file name of 1..%d bytes", i, maxIDLen))
		case len(f.Content) == 0:
			return nil, "", inputError(op, partnerhttp.KindRejected,
				fmt.Errorf("file %d: empty", i))
		case total > c.cfg.MaxUploadBytes:
			return nil, "", inputError(op, partnerhttp.KindInputTooLarge,
				fmt.Errorf("upload exceeds %d bytes", c.cfg.MaxUploadBytes))
		}
		if f.ContentType != "" {
			if _, _, err := mime.ParseMediaType(f.ContentType); err != nil {
				return nil, "", inputError(op, partnerhttp.KindRejected,
					fmt.Errorf("file %d: bad content type: %w", i, err))
			}
		}
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail; errors are still checked so a
	// future writer change cannot silently truncate a claim document.
	if err := w.WriteField(FormFieldPolicyUUID, policyUUID); err != nil {
		return nil, "", fmt.Errorf("avata: %s: %w", op, err)
	}
	if err := w.WriteField(FormFieldPublicKey, publicKey); err != nil {
		return nil, "", fmt.Errorf("avata: %s: %w", op, err)
	}
	for _, f := range files {
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": FormFieldFiles, "filename": f.Name}))
		h.Set("Content-Type", ct)
		part, err := w.CreatePart(h)
		if err != nil {
			return nil, "", fmt.Errorf("avata: %s: %w", op, err)
		}
		if _, err := part.Write(f.Content); err != nil {
			return nil, "", fmt.Errorf("avata: %s: %w", op, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("avata: %s: %w", op, err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// CreateClaim files a claim with previously uploaded documents.
func (c *Client) CreateClaim(ctx context.Context, signer Wallet, req CreateClaimRequest) (*Claim, error) {
	const op = "claim_create"
	if err := requireID(op, "policyUuid", req.PolicyUUID); err != nil {
		return nil, err
	}
	if len(req.Files) == 0 {
		return nil, inputError(op, partnerhttp.KindRejected,
			errors.New("at least one uploaded file is required"))
	}
	// The documented answer is {"claim":{...}} without the claim's uuid: the
	// result's UUID is usually empty (the uuid arrives with claim-update
	// callbacks). A 2xx without a claim object is either "claim exists"
	// (one reading of a duplicate) or a response we cannot use.
	var out struct {
		Claim   *Claim `json:"claim"`
		Message string `json:"message"`
	}
	err := c.walletCall(ctx, signer, request(op, c.cfg.Paths.ClaimCreate, false), req, &out)
	if err != nil {
		return nil, err
	}
	if out.Claim == nil {
		msg := partnerhttp.SanitizeMessage(out.Message)
		if claimExistsMessage(msg) {
			return nil, &Error{Code: CodeClaimExists, HTTP: &partnerhttp.Error{
				Partner: PartnerName, Operation: op, HTTPStatus: http.StatusOK, PartnerMessage: msg,
				Kind: partnerhttp.KindConflict,
				Err:  errors.New("the policy already has a claim"),
			}}
		}
		return nil, badResponse(op, errors.New("answer has no claim"))
	}
	return out.Claim, nil
}

// ClaimStatus fetches the claim on a policy.
func (c *Client) ClaimStatus(ctx context.Context, signer Wallet, policyUUID string) (*Claim, error) {
	const op = "claim_status"
	if err := requireID(op, "policyUuid", policyUUID); err != nil {
		return nil, err
	}
	var out ClaimEnvelope
	err := c.walletCall(ctx, signer, request(op, c.cfg.Paths.ClaimStatus, true),
		map[string]string{"policyUuid": policyUUID}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Claim, nil
}

// badResponse reports a 2xx answer we cannot use.
func badResponse(op string, err error) error {
	return &Error{HTTP: &partnerhttp.Error{
		Partner: PartnerName, Operation: op, HTTPStatus: http.StatusOK,
		Kind: partnerhttp.KindBadResponse, Err: err,
	}}
}
