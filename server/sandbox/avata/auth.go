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
	"github.com/covergate/covergate/server/partners/avata"
)

// walletClaims are the sandbox JWT's claims; Gen lets RevokeTokens invalidate
// every token issued before it.
type walletClaims struct {
	jwt.RegisteredClaims
	Gen int `json:"gen"`
}

func (s *Server) nonce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	addr, err := ethsign.NormalizeAddress(q.Get("publicKey"))
	if err != nil {
		fail(w, badRequest("publicKey must be a 0x wallet address"))
		return
	}
	chainID, err := strconv.ParseInt(q.Get("chainId"), 10, 64)
	if err != nil || chainID <= 0 {
		fail(w, badRequest("chainId must be a positive integer"))
		return
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	n := hex.EncodeToString(raw)
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
		live = live[len(live)-maxNoncesPerPK+1:] // oldest outstanding nonce gives way
	}
	s.st.nonces[key] = append(live, issuedNonce{nonce: n, chainID: chainID, expiry: now.Add(s.cfg.NonceTTL)})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, avata.NonceResponse{Nonce: n})
}

// signIn finds the outstanding nonce the signature covers (the request does
// not name it), consumes it and issues a wallet JWT.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var req avata.SignInRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	v.required("signature", req.Signature)
	v.required("publicKey", req.PublicKey)
	if req.ChainID <= 0 {
		v.fail("chainId must be a positive integer")
	}
	if v.err != nil {
		fail(w, v.err)
		return
	}
	addr, err := ethsign.NormalizeAddress(req.PublicKey)
	if err != nil {
		fail(w, badRequest("publicKey must be a 0x wallet address"))
		return
	}
	now := s.cfg.Clock()
	key := strings.ToLower(addr)
	s.mu.Lock()
	outstanding := s.st.nonces[key]
	match := -1
	for i, in := range outstanding {
		if in.chainID == req.ChainID && now.Before(in.expiry) && ethsign.VerifyMessage(in.nonce, req.Signature, addr) == nil {
			match = i
			break
		}
	}
	if match < 0 {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, avata.CodeUnauthorized, "signature does not match an issued, unused nonce")
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
		Gen: gen,
	}).SignedString(s.cfg.JWTSecret)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", "cannot issue token")
		return
	}
	writeJSON(w, http.StatusOK, avata.SignInResponse{AccessToken: tok})
}

var errRevoked = errors.New("token revoked")

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
