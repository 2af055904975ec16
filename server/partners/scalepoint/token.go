package scalepoint

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// Default token settings.
const (
	DefaultEarlyRefresh = 30 * time.Second
	DefaultAssertionTTL = 30 * time.Second
	DefaultTokenTimeout = 10 * time.Second
)

// OAuthConfig configures the client_credentials grant. Exactly one client authentication
// is used: private_key_jwt when a certificate (Certificate+Key or CertFile+KeyFile) is
// configured, otherwise client_secret.
type OAuthConfig struct {
	TokenURL     string // e.g. https://sandbox-accounts.scalepoint.com/connect/token
	ClientID     string
	ClientSecret string
	// SecretInBody sends client_id/client_secret as form fields instead of HTTP Basic
	// (RFC 6749 §2.3.1 allows both; Basic is the default).
	SecretInBody bool

	// private_key_jwt: either parsed values or PEM files.
	Certificate *x509.Certificate
	Key         crypto.Signer
	CertFile    string
	KeyFile     string
	// AssertionTTL is the assertion's exp - iat (default 30 s; Scalepoint wants 10–60 s).
	AssertionTTL time.Duration

	// EarlyRefresh: a cached token is replaced this long before it expires (default 30 s),
	// so a request never leaves with a token that dies in flight.
	EarlyRefresh time.Duration
	// Timeout bounds one token request attempt (default 10 s), also bounded by the caller's ctx.
	Timeout time.Duration
	// MaxAttempts for a token request failing with a transport error, timeout, 5xx or 429
	// (default 3); RetryBackoff is the first wait (default 200 ms, exponential, jittered).
	MaxAttempts  int
	RetryBackoff time.Duration

	HTTPClient *http.Client     // nil → a dedicated client
	Clock      func() time.Time // nil → time.Now; tests move time forward with it
}

// Tokens hands out access tokens: one cached token per scope set (the set, not the order,
// is the key), fetched by exactly one request however many callers need it at once.
type Tokens struct {
	cfg     OAuthConfig
	signer  *assertionSigner // nil → client_secret
	http    *http.Client
	ownHTTP bool

	mu   sync.Mutex
	sets map[string]*scopeToken
}

// scopeToken is the cache slot of one scope set.
type scopeToken struct {
	scopes []string
	// fetch is a one-slot semaphore held while a token request is in flight; waiting on
	// it honours the caller's ctx (a sync.Mutex would not).
	fetch chan struct{}

	mu        sync.Mutex // guards tok and refreshAt
	tok       *oauth2.Token
	refreshAt time.Time // by cfg.Clock; zero = no expires_in, keep until refused
}

// NewTokens validates cfg and loads the client certificate, if any.
func NewTokens(cfg OAuthConfig) (*Tokens, error) {
	if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("scalepoint: token URL %q must be an absolute http(s) URL without credentials", cfg.TokenURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("scalepoint: client id is required")
	}
	if cfg.EarlyRefresh <= 0 {
		cfg.EarlyRefresh = DefaultEarlyRefresh
	}
	if cfg.AssertionTTL <= 0 {
		cfg.AssertionTTL = DefaultAssertionTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTokenTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	// The token request carries the client secret (or a signed assertion): never follow a
	// redirect with it.
	t := &Tokens{cfg: cfg, http: partnerhttp.RefuseRedirects(cfg.HTTPClient), ownHTTP: cfg.HTTPClient == nil, sets: map[string]*scopeToken{}}

	cert, key := cfg.Certificate, cfg.Key
	if cert == nil && cfg.CertFile != "" {
		var err error
		if cert, key, err = LoadKeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, err
		}
	}
	switch {
	case cert != nil || key != nil:
		if cert == nil || key == nil {
			return nil, errors.New("scalepoint: private_key_jwt needs both a certificate and its key")
		}
		if cfg.ClientSecret != "" {
			return nil, errors.New("scalepoint: configure either a client secret or a client certificate, not both")
		}
		if err := checkKeyPair(cert, key); err != nil {
			return nil, err
		}
		t.signer = &assertionSigner{
			clientID: cfg.ClientID, audience: cfg.TokenURL,
			x5t: Thumbprint(cert), key: key, ttl: cfg.AssertionTTL,
		}
	case cfg.ClientSecret == "":
		return nil, errors.New("scalepoint: a client secret or a client certificate is required")
	}
	return t, nil
}

// Close releases idle connections of the token client New created itself.
func (t *Tokens) Close() {
	if t.ownHTTP {
		t.http.CloseIdleConnections()
	}
}

// Token returns a valid access token for the scope set, fetching one if the cached token
// is missing or within EarlyRefresh of its expiry. The result is shared: do not modify it.
func (t *Tokens) Token(ctx context.Context, scopes ...string) (*oauth2.Token, error) {
	st := t.slot(scopes)
	if tok := st.valid(t.cfg.Clock()); tok != nil {
		return tok, nil
	}
	select {
	case st.fetch <- struct{}{}:
	case <-ctx.Done():
		return nil, tokenError(ctx.Err())
	}
	defer func() { <-st.fetch }()
	// Whoever held the slot before us may have fetched the token we need.
	if tok := st.valid(t.cfg.Clock()); tok != nil {
		return tok, nil
	}
	tok, refreshAt, err := t.request(ctx, st.scopes)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	st.tok, st.refreshAt = tok, refreshAt
	st.mu.Unlock()
	return tok, nil
}

// Invalidate drops the cached token of the scope set if it is still accessToken (the one
// the API refused with 401). Comparing the value means N callers that saw the same 401
// cause one refresh, not N.
func (t *Tokens) Invalidate(accessToken string, scopes ...string) {
	st := t.slot(scopes)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.tok != nil && st.tok.AccessToken == accessToken {
		st.tok = nil
	}
}

func (t *Tokens) slot(scopes []string) *scopeToken {
	set := slices.Clone(scopes)
	slices.Sort(set)
	set = slices.Compact(set)
	key := strings.Join(set, " ")
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.sets[key]
	if !ok {
		st = &scopeToken{scopes: set, fetch: make(chan struct{}, 1)}
		t.sets[key] = st
	}
	return st
}

func (st *scopeToken) valid(now time.Time) *oauth2.Token {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.tok == nil {
		return nil
	}
	// A token without expires_in is kept until the API refuses it (Invalidate).
	if !st.refreshAt.IsZero() && !now.Before(st.refreshAt) {
		return nil
	}
	return st.tok
}

// request obtains a token, retrying transport errors, timeouts, 5xx and 429 with
// exponential backoff: a token request changes nothing at Scalepoint, and every attempt
// carries a fresh assertion (a repeated one would be refused as a replay).
func (t *Tokens) request(ctx context.Context, scopes []string) (*oauth2.Token, time.Time, error) {
	type result struct {
		tok       *oauth2.Token
		refreshAt time.Time
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = t.cfg.RetryBackoff
	res, err := backoff.Retry(ctx, func() (result, error) {
		tok, refreshAt, perr := t.requestOnce(ctx, scopes)
		if perr == nil {
			return result{tok, refreshAt}, nil
		}
		switch {
		case ctx.Err() != nil:
			return result{}, backoff.Permanent(perr)
		case perr.Kind == partnerhttp.KindUnavailable,
			perr.Kind == partnerhttp.KindTimeout,
			perr.Kind == partnerhttp.KindRateLimited:
			return result{}, perr // transient: transport, attempt timeout, 5xx, 429
		default:
			return result{}, backoff.Permanent(perr)
		}
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(t.cfg.MaxAttempts)), backoff.WithMaxElapsedTime(0))
	if err != nil {
		var perr *partnerhttp.Error
		if errors.As(err, &perr) {
			return nil, time.Time{}, perr
		}
		return nil, time.Time{}, tokenError(err) // the caller's ctx ended between attempts
	}
	return res.tok, res.refreshAt, nil
}

// requestOnce performs one client_credentials token request.
func (t *Tokens) requestOnce(ctx context.Context, scopes []string) (*oauth2.Token, time.Time, *partnerhttp.Error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.http)

	cc := clientcredentials.Config{
		ClientID: t.cfg.ClientID, ClientSecret: t.cfg.ClientSecret,
		TokenURL: t.cfg.TokenURL, Scopes: scopes,
		// Never auto-detect: probing sends a second token request after a failure.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if t.cfg.SecretInBody {
		cc.AuthStyle = oauth2.AuthStyleInParams
	}
	issued := t.cfg.Clock()
	if t.signer != nil {
		assertion, err := t.signer.sign(issued)
		if err != nil {
			return nil, time.Time{}, &partnerhttp.Error{
				Partner: partnerName, Operation: opToken, Kind: partnerhttp.KindInternal, Err: err,
			}
		}
		cc.AuthStyle = oauth2.AuthStyleInParams // client_id in the form, no secret
		cc.EndpointParams = url.Values{
			"client_assertion_type": {ClientAssertionType},
			"client_assertion":      {assertion},
		}
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		return nil, time.Time{}, tokenError(err)
	}
	if tok.AccessToken == "" {
		return nil, time.Time{}, &partnerhttp.Error{
			Partner: partnerName, Operation: opToken, HTTPStatus: http.StatusOK,
			Kind:           partnerhttp.KindBadResponse,
			PartnerMessage: "token response without access_token",
			Err:            errors.New("scalepoint: token response without access_token"),
		}
	}
	var refreshAt time.Time
	if !tok.Expiry.IsZero() {
		// oauth2 computes Expiry with the wall clock; keep the lifetime and count it on our
		// clock from when we asked (the conservative end). A lifetime shorter than twice
		// EarlyRefresh is refreshed at half-life instead, or every call would fetch a token.
		lifetime := time.Until(tok.Expiry)
		refreshAt = issued.Add(lifetime - min(t.cfg.EarlyRefresh, lifetime/2))
	}
	return tok, refreshAt, nil
}

// tokenError maps a token request failure. The endpoint refusing us (invalid_client,
// invalid_scope, ...) is PARTNER_AUTH_FAILED: our credentials or configuration are wrong and
// the caller cannot fix it. The error never carries the request (secret, assertion).
func tokenError(err error) *partnerhttp.Error {
	pe := &partnerhttp.Error{
		Partner: partnerName, Operation: opToken, Kind: partnerhttp.KindUnavailable,
	}
	var re *oauth2.RetrieveError
	var redirect *partnerhttp.RedirectError
	switch {
	case errors.As(err, &redirect):
		pe.HTTPStatus, pe.Kind = redirect.Status, partnerhttp.KindBadResponse
		pe.Err = fmt.Errorf("scalepoint: token request: %w", redirect)
	case errors.As(err, &re):
		if re.Response != nil {
			pe.HTTPStatus = re.Response.StatusCode
		}
		parts := []string{}
		for _, p := range []string{re.ErrorCode, re.ErrorDescription} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		pe.PartnerMessage = partnerhttp.SanitizeMessage(strings.Join(parts, ": "))
		if pe.PartnerMessage == "" {
			pe.PartnerMessage = partnerhttp.PartnerMessageFromBody(re.Body)
		}
		pe.Body = re.Body
		pe.Kind = partnerhttp.KindUnauthorized
		if pe.HTTPStatus >= 500 {
			pe.Kind = partnerhttp.KindUnavailable
		}
		if pe.HTTPStatus == http.StatusTooManyRequests {
			pe.Kind = partnerhttp.KindRateLimited
		}
		pe.Err = fmt.Errorf("scalepoint: token request refused with HTTP %d", pe.HTTPStatus)
	case errors.Is(err, context.DeadlineExceeded):
		pe.Kind = partnerhttp.KindTimeout
		pe.Err = fmt.Errorf("scalepoint: token request: %w", err)
	case errors.Is(err, context.Canceled):
		pe.Kind = partnerhttp.KindCanceled
		pe.Err = fmt.Errorf("scalepoint: token request: %w", err)
	default:
		// Transport errors name the URL and the cause; the URL carries no credentials.
		pe.Err = fmt.Errorf("scalepoint: token request: %w", err)
	}
	return pe
}
