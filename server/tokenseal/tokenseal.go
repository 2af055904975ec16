// Package tokenseal encrypts short secrets at rest (partner access tokens held for customers)
// with AES-256-GCM. The additional data binds a sealed value to its owner: a ciphertext copied to
// another customer's row does not open there.
package tokenseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// version prefixes every ciphertext, so a future key rotation can tell formats apart.
const version byte = 1

// ErrOpen is returned for a ciphertext that does not open with this key and additional data.
var ErrOpen = errors.New("tokenseal: cannot open sealed value")

// Sealer seals and opens values. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New builds a Sealer from a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("tokenseal: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("tokenseal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("tokenseal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey decodes a key written as 64 hex digits or as standard/URL base64 of 32 bytes. The
// error never contains the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("tokenseal: key must be %d bytes as 64 hex digits or base64", KeySize)
}

// RandomKey returns a fresh key (for a process that has none configured: its sealed values do
// not survive a restart).
func RandomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // crypto/rand.Read never fails (Go ≥ 1.24)
	return k
}

// Seal encrypts plaintext bound to ad: version ‖ nonce ‖ ciphertext+tag.
func (s *Sealer) Seal(plaintext, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+s.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plaintext, ad)
}

// Open decrypts a value from Seal with the same ad; anything else is ErrOpen.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
