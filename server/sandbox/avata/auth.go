package avata

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/covergate/covergate/server/ethsign"
)

// walletClaims are the sandbox JWT's claims; Gen lets RevokeTokens invalidate
// every token issued before it.
type walletClaims struct {
	jwt.RegisteredClaims
	ChainID int64 `json:"chainId"`
	Gen     int   `json:"gen"`
}

// nonce answers {"nonce"} for GET ?publicKey=&chainId= (the reference says
// the call has "two query parameters" and cuts off before naming them; the
// sign-in body's publicKey and chainId are the reading).
func (s *Server) nonce(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	addr, err := ethsign.NormalizeAddress(q.Get("publicKey"))
	if err != nil {
		s.fail(w, c, badRequest("publicKey must be a 0x wallet address"))
		return
	}
	chainID, err := strconv.ParseInt(q.Get("chainId"), 10, 64)
	if err != nil || chainID <= 0 {
		s.fail(w, c, badRequest("chainId must be a positive integer"))
		return
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	// A human-readable message, as wallets show it to the user before signing.
	n := "Sign in to Avata: " + hex.EncodeToString(raw)
	now := s.cfg.Clock()
	key := strings.ToLower(addr)
	s.mu.Lock()
	live := s.st.nonces[key][:0:0]
	for _, in := range s.st.nonces[key] {
		if now.Before(in.expiry) {
			live = append(live, in)
		}
	}
	if len(live) >= maxNoncesPerPK {
		live = live[len(live)-maxNoncesPerPK+1:] // the oldest outstanding nonce gives way
	}
	s.st.nonces[key] = append(live, issuedNonce{nonce: n, chainID: chainID, expiry: now.Add(s.cfg.NonceTTL)})
	s.mu.Unlock()
	s.ok(w, r, c, nonceOut{Nonce: n})
}

// signIn finds the outstanding nonce the signature covers (the request does
// not name it), checks the EIP-191 signature against publicKey, consumes the
// nonce and issues a wallet JWT bound to that wallet and chain.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, c *call) {
	var req signInIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	v.required("signature", req.Signature)
	v.required("publicKey", req.PublicKey)
	chainID := v.chainID("chainId", req.ChainID)
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	addr, err := ethsign.NormalizeAddress(req.PublicKey)
	if err != nil {
		s.fail(w, c, badRequest("publicKey must be a 0x wallet address"))
		return
	}
	now := s.cfg.Clock()
	key := strings.ToLower(addr)
	s.mu.Lock()
	outstanding := s.st.nonces[key]
	match := -1
	for i, in := range outstanding {
		if in.chainID == chainID && now.Before(in.expiry) && ethsign.VerifyMessage(in.nonce, req.Signature, addr) == nil {
			match = i
			break
		}
	}
	if match < 0 {
		s.mu.Unlock()
		s.fail(w, c, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "signature does not match an issued, unused nonce"})
		return
	}
	s.st.nonces[key] = append(outstanding[:match:match], outstanding[match+1:]...) // single use
	gen := s.st.tokenGen
	s.mu.Unlock()

	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, walletClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   addr,
			Issuer:    "avata-sandbox",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.TokenTTL)),
		},
		ChainID: chainID,
		Gen:     gen,
	}).SignedString(s.cfg.JWTSecret)
	if err != nil {
		s.fail(w, c, &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: "cannot issue token"})
		return
	}
	s.ok(w, r, c, signInOut{AccessToken: tok})
}

var (
	errNoToken = errors.New("wallet token required")
	errRevoked = errors.New("wallet token revoked")
)

// walletFromRequest reads "Authorization: Bearer <wallet JWT>" and returns
// its wallet.
func (s *Server) walletFromRequest(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", errNoToken
	}
	wallet, err := s.verifyToken(tok)
	if err != nil {
		return "", errors.New("invalid wallet token")
	}
	return wallet, nil
}

// verifyToken checks a wallet JWT and returns its wallet.
func (s *Server) verifyToken(tok string) (string, error) {
	var claims walletClaims
	_, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.cfg.Clock),
		jwt.WithLeeway(0),
	)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	gen := s.st.tokenGen
	s.mu.Unlock()
	if claims.Gen != gen {
		return "", errRevoked
	}
	return ethsign.NormalizeAddress(claims.Subject)
}

// RevokeTokens invalidates every wallet JWT issued so far (the next wallet
// call gets 401): lets tests prove the adapter signs in again.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.st.tokenGen++
	s.mu.Unlock()
}
