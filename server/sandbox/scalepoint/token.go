package scalepoint

import (
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515 §4.1.7)
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func invalidClient(format string, args ...any) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	tok, oerr := s.issueToken(r)
	if oerr != nil {
		if oerr.status == http.StatusUnauthorized {
			if _, _, basic := r.BasicAuth(); basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="scalepoint"`)
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, oerr.status, map[string]string{"error": oerr.code, "error_description": oerr.description})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tok)
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

func (s *Server) issueToken(r *http.Request) (*tokenResponse, *oauthError) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, invalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("malformed form body")
	}
	form := r.PostForm
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", gt)}
	}
	client, oerr := s.authenticate(r, form)
	if oerr != nil {
		return nil, oerr
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		scopes = slices.Clone(client.Scopes)
	}
	for _, sc := range scopes {
		if !slices.Contains(client.Scopes, sc) {
			return nil, &oauthError{http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not allowed for this client", sc)}
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)

	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (Go ≥ 1.24)
	access := base64.RawURLEncoding.EncodeToString(raw)
	ttl := s.cfg.TokenTTL
	s.mu.Lock()
	now := s.cfg.Clock()
	for t, it := range s.tokens {
		if !now.Before(it.expiry) {
			delete(s.tokens, t) // bounded memory: expired tokens are refused anyway
		}
	}
	s.tokens[access] = issuedToken{clientID: client.ID, scopes: scopes, expiry: now.Add(ttl)}
	s.tokensIssued++
	s.mu.Unlock()
	secs := int64(ttl / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: secs, Scope: strings.Join(scopes, " ")}, nil
}

// authenticate accepts exactly one client authentication method: HTTP Basic, form
// client_secret, or a private_key_jwt assertion.
func (s *Server) authenticate(r *http.Request, form url.Values) (Client, *oauthError) {
	basicID, basicSecret, basic := r.BasicAuth()
	formSecret := form.Has("client_secret")
	assertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	methods := 0
	for _, used := range []bool{basic, formSecret, assertion} {
		if used {
			methods++
		}
	}
	switch {
	case methods == 0:
		return Client{}, invalidClient("no client authentication")
	case methods > 1:
		return Client{}, invalidRequest("more than one client authentication method")
	case assertion:
		return s.authenticateAssertion(r, form)
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if basic {
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(basicID)
		secret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return Client{}, invalidClient("malformed basic credentials")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return Client{}, invalidRequest("client_id does not match the authenticated client")
		}
	}
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if !ok || c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return Client{}, invalidClient("client authentication failed")
	}
	return c, nil
}

// authenticateAssertion verifies an RFC 7523 client assertion.
func (s *Server) authenticateAssertion(r *http.Request, form url.Values) (Client, *oauthError) {
	if form.Get("client_assertion_type") != clientAssertionType {
		return Client{}, invalidClient("client_assertion_type must be %s", clientAssertionType)
	}
	now := s.cfg.Clock()
	var claims jwt.RegisteredClaims
	var client Client
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(s.audiences(r)...),
	)
	_, err := parser.ParseWithClaims(form.Get("client_assertion"), &claims, func(t *jwt.Token) (any, error) {
		// The claims are decoded (unverified) before the key is chosen: iss names the
		// client, and the key is that client's registered certificate, never the token's.
		s.mu.Lock()
		c, ok := s.clients[claims.Issuer]
		s.mu.Unlock()
		if !ok || c.Certificate == nil {
			return nil, errors.New("unknown client or no certificate registered")
		}
		if x5t, _ := t.Header["x5t"].(string); x5t != thumbprint(c.Certificate) {
			return nil, errors.New("x5t does not match the registered certificate")
		}
		client = c
		return c.Certificate.PublicKey, nil
	})
	if err != nil {
		return Client{}, invalidClient("client assertion rejected: %v", err)
	}
	switch {
	case claims.Subject != claims.Issuer:
		return Client{}, invalidClient("client assertion sub must equal iss")
	case form.Get("client_id") != "" && form.Get("client_id") != claims.Issuer:
		return Client{}, invalidClient("client_id does not match the assertion")
	case claims.ID == "":
		return Client{}, invalidClient("client assertion has no jti")
	case claims.ExpiresAt.Sub(now) > maxAssertionLifetime:
		return Client{}, invalidClient("client assertion expires more than %s from now", maxAssertionLifetime)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, exp := range s.usedJTIs {
		if now.After(exp) {
			delete(s.usedJTIs, jti) // expired assertions are refused anyway
		}
	}
	key := claims.Issuer + "\x00" + claims.ID
	if _, seen := s.usedJTIs[key]; seen {
		return Client{}, invalidClient("client assertion jti was already used")
	}
	s.usedJTIs[key] = claims.ExpiresAt.Time
	return client, nil
}

// audiences are the token endpoint URLs an assertion may name: the one this request
// reached, and the configured public one.
func (s *Server) audiences(r *http.Request) []string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	auds := []string{scheme + "://" + r.Host + "/connect/token"}
	if s.cfg.PublicURL != "" {
		auds = append(auds, strings.TrimRight(s.cfg.PublicURL, "/")+"/connect/token")
	}
	return auds
}

func thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // see import
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// bearer returns the valid token presented by r, or nil.
func (s *Server) bearer(r *http.Request) *issuedToken {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[h[len(prefix):]]
	if !ok {
		return nil
	}
	if !s.cfg.Clock().Before(t.expiry) {
		delete(s.tokens, h[len(prefix):])
		return nil
	}
	return &t
}
