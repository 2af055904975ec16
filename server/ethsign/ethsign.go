// Package ethsign signs and verifies Ethereum "personal" messages exactly like
// ethers' Wallet.signMessage / verifyMessage (EIP-191 version 0x45).
//
// Avata uses these signatures twice: the wallet sign-in (the nonce is signed)
// and the merchant-claim link (the policy UUID is signed by the merchant
// wallet). Both sides must agree bit for bit with ethers, so the rules are:
//
//   - the message is taken as UTF-8 bytes; a "0x…" string is NOT hex-decoded;
//   - hash = keccak256("\x19Ethereum Signed Message:\n" + decimal byte length + message);
//   - secp256k1 ECDSA with RFC 6979 nonces and low S;
//   - output "0x" + hex(r ‖ s ‖ v), 65 bytes, v = 27 or 28.
package ethsign

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/sha3"
)

// Errors callers can test for with errors.Is.
var (
	ErrInvalidKey       = errors.New("ethsign: invalid private key")
	ErrInvalidSignature = errors.New("ethsign: invalid signature")
	ErrInvalidAddress   = errors.New("ethsign: invalid address")
)

const (
	signatureLen = 65
	// compactMagic is the offset decred's compact format adds to the recovery id.
	compactMagic  = 27
	messagePrefix = "\x19Ethereum Signed Message:\n"
)

// Wallet is a secp256k1 key able to sign personal messages. It never prints
// its key: String, GoString and LogValue are redacted so a Wallet that slips
// into a log line or an error leaks only its public address.
type Wallet struct {
	key     *secp256k1.PrivateKey
	address string
}

// NewWallet parses a hex private key (64 hex digits, with or without "0x").
// The error never contains the key material.
func NewWallet(hexKey string) (*Wallet, error) {
	s := strings.TrimSpace(hexKey)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 64 {
		return nil, fmt.Errorf("%w: want 32 bytes (64 hex digits), got %d hex digits", ErrInvalidKey, len(s))
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hexadecimal", ErrInvalidKey)
	}
	defer clear(raw)
	var scalar secp256k1.ModNScalar
	if overflow := scalar.SetByteSlice(raw); overflow {
		return nil, fmt.Errorf("%w: not below the curve order", ErrInvalidKey)
	}
	if scalar.IsZero() {
		return nil, fmt.Errorf("%w: zero", ErrInvalidKey)
	}
	key := secp256k1.NewPrivateKey(&scalar)
	return &Wallet{key: key, address: addressOf(key.PubKey())}, nil
}

// Address is the wallet's EIP-55 checksummed address.
func (w *Wallet) Address() string { return w.address }

// SignMessage signs msg with ethers signMessage semantics and returns
// "0x" + 130 hex digits (r ‖ s ‖ v, v = 27/28).
func (w *Wallet) SignMessage(msg string) (string, error) {
	if w == nil || w.key == nil {
		return "", fmt.Errorf("%w: wallet not initialised", ErrInvalidKey)
	}
	compact := ecdsa.SignCompact(w.key, HashMessage(msg), false)
	// decred returns v ‖ r ‖ s with v = 27 + recid; Ethereum wants r ‖ s ‖ v.
	sig := make([]byte, signatureLen)
	copy(sig, compact[1:])
	sig[64] = compact[0]
	return "0x" + hex.EncodeToString(sig), nil
}

// String is redacted: it shows the address, never the key.
func (w *Wallet) String() string {
	if w == nil {
		return "ethsign.Wallet(<nil>)"
	}
	return "ethsign.Wallet(" + w.address + ", key=REDACTED)"
}

// GoString keeps %#v from dumping the key's limbs.
func (w *Wallet) GoString() string { return w.String() }

// LogValue keeps slog from reflecting into the key.
func (w *Wallet) LogValue() slog.Value {
	if w == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("address", w.address), slog.String("key", "REDACTED"))
}

// HashMessage returns keccak256 of the EIP-191 personal-message encoding of msg.
func HashMessage(msg string) []byte {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(messagePrefix))
	h.Write([]byte(strconv.Itoa(len(msg))))
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// RecoverAddress returns the EIP-55 address that signed msg. It accepts
// v = 0/1/27/28 (wallets differ) and rejects malleable high-S signatures,
// like ethers v6 does.
func RecoverAddress(msg, sigHex string) (string, error) {
	sig, err := parseSignature(sigHex)
	if err != nil {
		return "", err
	}
	compact := make([]byte, signatureLen)
	compact[0] = compactMagic + sig[64]
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, HashMessage(msg))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	return addressOf(pub), nil
}

// VerifyMessage reports whether sigHex is a signature of msg by address
// (compared case-insensitively, as a wallet may send it lower-case).
func VerifyMessage(msg, sigHex, address string) error {
	want, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	got, err := RecoverAddress(msg, sigHex)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: signed by another address", ErrInvalidSignature)
	}
	return nil
}

// parseSignature decodes a 65-byte hex signature, normalising v to the
// recovery id 0/1 and rejecting high S.
func parseSignature(sigHex string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(sigHex), "0x"), "0X")
	if len(s) != 2*signatureLen {
		return nil, fmt.Errorf("%w: want %d bytes (%d hex digits), got %d hex digits",
			ErrInvalidSignature, signatureLen, 2*signatureLen, len(s))
	}
	sig, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hexadecimal", ErrInvalidSignature)
	}
	switch v := sig[64]; v {
	case 0, 1:
	case 27, 28:
		sig[64] = v - 27
	default:
		return nil, fmt.Errorf("%w: v must be 0, 1, 27 or 28, got %d", ErrInvalidSignature, v)
	}
	var sScalar secp256k1.ModNScalar
	if overflow := sScalar.SetByteSlice(sig[32:64]); overflow || sScalar.IsOverHalfOrder() {
		return nil, fmt.Errorf("%w: s is not in the lower half of the curve order", ErrInvalidSignature)
	}
	return sig, nil
}

// addressOf derives the EIP-55 address: the last 20 bytes of keccak256 of the
// uncompressed public key without its 0x04 prefix.
func addressOf(pub *secp256k1.PublicKey) string {
	h := sha3.NewLegacyKeccak256()
	h.Write(pub.SerializeUncompressed()[1:])
	return checksum(h.Sum(nil)[12:])
}

// NormalizeAddress validates a 0x-prefixed 20-byte hex address in any case and
// returns its EIP-55 form. A mixed-case input must carry a correct checksum.
func NormalizeAddress(addr string) (string, error) {
	if len(addr) != 42 || (addr[:2] != "0x" && addr[:2] != "0X") {
		return "", fmt.Errorf("%w: want 0x followed by 40 hex digits", ErrInvalidAddress)
	}
	raw, err := hex.DecodeString(addr[2:])
	if err != nil {
		return "", fmt.Errorf("%w: not hexadecimal", ErrInvalidAddress)
	}
	sum := checksum(raw)
	body := addr[2:]
	if body != strings.ToLower(body) && body != strings.ToUpper(body) && "0x"+body != sum {
		return "", fmt.Errorf("%w: bad EIP-55 checksum", ErrInvalidAddress)
	}
	return sum, nil
}

// checksum renders a 20-byte address with EIP-55 mixed-case checksum.
func checksum(addr []byte) string {
	lower := hex.EncodeToString(addr)
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	digest := h.Sum(nil)
	out := []byte(lower)
	for i, c := range out {
		if c < 'a' {
			continue // digits have no case
		}
		nibble := digest[i/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if nibble&0x0f >= 8 {
			out[i] = c - 'a' + 'A'
		}
	}
	return "0x" + string(out)
}

// CanonicalSignature validates a 65-byte hex signature (v = 0/1/27/28, low S) and returns it
// the way ethers signMessage writes it: "0x", lower-case hex, v = 27/28.
func CanonicalSignature(sigHex string) (string, error) {
	sig, err := parseSignature(sigHex)
	if err != nil {
		return "", err
	}
	sig[64] += compactMagic
	return "0x" + hex.EncodeToString(sig), nil
}
