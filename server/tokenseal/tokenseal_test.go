package tokenseal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/covergate/covergate/server/tokenseal"
)

func TestSealOpen(t *testing.T) {
	key := tokenseal.RandomKey()
	s, err := tokenseal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("eyJhbGciOiJIUzI1NiJ9.payload.sig")
	sealed := s.Seal(secret, []byte("customer-1|0xabc"))
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := s.Seal(secret, []byte("customer-1|0xabc")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	got, err := s.Open(sealed, []byte("customer-1|0xabc"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := tokenseal.New(tokenseal.RandomKey())
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		s      *tokenseal.Sealer
		sealed []byte
		ad     string
	}{
		"other owner":  {s, sealed, "customer-2|0xabc"},
		"other key":    {other, sealed, "customer-1|0xabc"},
		"tampered":     {s, tampered, "customer-1|0xabc"},
		"truncated":    {s, sealed[:10], "customer-1|0xabc"},
		"empty":        {s, nil, "customer-1|0xabc"},
		"other format": {s, append([]byte{9}, sealed[1:]...), "customer-1|0xabc"},
	} {
		if _, err := tc.s.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, tokenseal.ErrOpen) {
			t.Errorf("%s: Open error = %v, want ErrOpen", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := tokenseal.RandomKey()
	for _, s := range []string{hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)} {
		got, err := tokenseal.ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "abcd", hex.EncodeToString(key[:16]), "zz" + hex.EncodeToString(key)[2:]} {
		if _, err := tokenseal.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted a bad key", bad)
		}
	}
	if _, err := tokenseal.New(key[:16]); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}
