package scalepoint

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as the SHA-1 thumbprint (RFC 7515 §4.1.7); not used for security.
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ClientAssertionType is the RFC 7523 client_assertion_type for private_key_jwt.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Thumbprint returns the certificate's x5t value: base64url (unpadded) of the SHA-1 of
// its DER encoding. Scalepoint identifies the registered certificate by it.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // see import comment
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// LoadKeyPair reads a PEM certificate and its RSA private key (PKCS#1 or PKCS#8) from
// disk for private_key_jwt.
func LoadKeyPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// The error names files, never key material.
		return nil, nil, fmt.Errorf("scalepoint: load client certificate: %w", err)
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("scalepoint: parse client certificate: %w", err)
		}
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("scalepoint: client key cannot sign")
	}
	return cert, signer, nil
}

// checkKeyPair makes sure the key is RSA (the assertion is RS256) and belongs to the
// certificate, so a misconfiguration fails at start-up instead of as invalid_client later.
func checkKeyPair(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		return errors.New("scalepoint: client key must be RSA (assertions are RS256)")
	}
	certPub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(certPub) {
		return errors.New("scalepoint: client key does not match the client certificate")
	}
	return nil
}

// assertionSigner builds RFC 7523 client assertions for one client.
type assertionSigner struct {
	clientID string
	audience string // the token endpoint URL
	x5t      string
	key      crypto.Signer
	ttl      time.Duration
}

// sign returns a fresh assertion: a new jti every time, because the token endpoint rejects
// a replayed one (so a retried token request must never reuse an assertion).
func (a *assertionSigner) sign(now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    a.clientID,
		Subject:   a.clientID,
		Audience:  jwt.ClaimStrings{a.audience},
		ID:        uuid.NewString(),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(a.ttl)),
	}
	tok := jwt.NewWithClaims(signerRS256{}, claims)
	tok.Header["x5t"] = a.x5t
	s, err := tok.SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("scalepoint: sign client assertion: %w", err)
	}
	return s, nil
}

// signerRS256 is RS256 over any crypto.Signer (an HSM or KMS key works as well as an
// *rsa.PrivateKey); jwt's built-in RS256 accepts only *rsa.PrivateKey. It is passed to
// jwt.NewWithClaims directly, never registered globally.
type signerRS256 struct{}

func (signerRS256) Alg() string { return jwt.SigningMethodRS256.Alg() }

func (signerRS256) Sign(signingString string, key any) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, jwt.ErrInvalidKeyType
	}
	digest := sha256.Sum256([]byte(signingString))
	// crypto.SHA256 as SignerOpts selects PKCS#1 v1.5 for RSA keys, which is RS256.
	return signer.Sign(rand.Reader, digest[:], crypto.SHA256)
}

func (signerRS256) Verify(signingString string, sig []byte, key any) error {
	return jwt.SigningMethodRS256.Verify(signingString, sig, key)
}
