package avata_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/partners/avata"
)

// FuzzVerifyCallbackSignature: only the HMAC of the exact body verifies.
func FuzzVerifyCallbackSignature(f *testing.F) {
	f.Add([]byte(`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`), "")
	f.Add([]byte(`{}`), "zz")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		secret := []byte("fuzz-callback-secret")
		good := avata.SignCallback(secret, body)
		if err := avata.VerifyCallbackSignature(secret, body, good); err != nil {
			t.Fatalf("valid signature refused: %v", err)
		}
		if err := avata.VerifyCallbackSignature(nil, body, avata.SignCallback(nil, body)); err == nil {
			t.Fatal("a callback verified with no secret configured")
		}
		err := avata.VerifyCallbackSignature(secret, body, header)
		if err == nil && !strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(header), "sha256="), good) {
			t.Fatalf("header %q accepted, signature is %s", header, good)
		}
		if err != nil && !errors.Is(err, avata.ErrSignatureMissing) && !errors.Is(err, avata.ErrSignatureInvalid) {
			t.Fatalf("unexpected error %v", err)
		}
		if avata.VerifyCallbackSignature(secret, append(body, '\n'), good) == nil {
			t.Fatal("signature still verifies after the body changed")
		}
	})
}
