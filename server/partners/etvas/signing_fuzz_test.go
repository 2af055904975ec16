package etvas_test

import (
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/partners/etvas"
)

// FuzzRequestSignature: a signature made by RequestSignature verifies; the same signature over
// a request that differs in any signed part does not.
func FuzzRequestSignature(f *testing.F) {
	f.Add("POST", "/api/v1/purchases/abc/external-data/key", "", "application/json", "key", "ctx", int64(1700000000), []byte(`{"a":1}`), "x")
	f.Add("GET", "/api/v1/user/profile", "include=all&x=1", "", "key", "", int64(0), []byte{}, "")
	f.Add("PUT", "/a\nb", "c", "", "k\n", "", int64(-1), []byte(nil), "\n")
	f.Fuzz(func(t *testing.T, method, path, query, ctype, key, ctxID string, ts int64, body []byte, tweak string) {
		secret := []byte("fuzz-signing-secret")
		s := etvas.SignedRequest{Method: method, Path: path, RawQuery: query, ContentType: ctype, APIKey: key, ContextID: ctxID, Timestamp: ts, Body: body}
		sig := etvas.RequestSignature(secret, s)
		if !etvas.VerifyRequestSignature(secret, s, sig) {
			t.Fatalf("own signature does not verify for %+v", s)
		}
		if etvas.VerifyRequestSignature([]byte("another-secret"), s, sig) {
			t.Fatal("signature verifies under another secret")
		}
		changed := s
		changed.Body = append([]byte(tweak+"!"), body...)
		if etvas.VerifyRequestSignature(secret, changed, sig) {
			t.Fatalf("signature still verifies after the body changed to %q", changed.Body)
		}
		changed = s
		changed.Timestamp++
		if etvas.VerifyRequestSignature(secret, changed, sig) {
			t.Fatal("signature still verifies after the timestamp changed")
		}
		if !strings.Contains(tweak, "\n") && !strings.Contains(key, "\n") {
			changed = s
			changed.APIKey = key + tweak + "x"
			if etvas.VerifyRequestSignature(secret, changed, sig) {
				t.Fatal("signature still verifies for another API key")
			}
		}
	})
}

// FuzzVerifyWebhookSignature: only the HMAC of the exact body verifies; anything else is refused
// with one of the two documented errors, never a panic.
func FuzzVerifyWebhookSignature(f *testing.F) {
	f.Add([]byte(`{"name":"product.purchased","payload":{"productId":"p","contextId":"c"}}`), "")
	f.Add([]byte(`{}`), "sha256=00")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		secret := []byte("fuzz-event-secret")
		good := etvas.SignWebhook(secret, body)
		for _, h := range []string{good, "sha256=" + good, strings.ToUpper(good), " " + good + " "} {
			if err := etvas.VerifyWebhookSignature(secret, body, h); err != nil {
				t.Fatalf("valid signature %q refused: %v", h, err)
			}
		}
		err := etvas.VerifyWebhookSignature(secret, body, header)
		norm := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(header), "sha256="))
		switch {
		case err == nil && norm != good:
			t.Fatalf("header %q accepted for a body whose signature is %s", header, good)
		case err != nil && err != etvas.ErrSignatureMissing && err != etvas.ErrSignatureInvalid:
			t.Fatalf("unexpected error %v", err)
		}
		if err := etvas.VerifyWebhookSignature(secret, append(body, ' '), good); err == nil {
			t.Fatal("signature still verifies after a byte was appended to the body")
		}
		_ = etvas.CheckTimestamp(int64(len(body))*1_000_000, time.UnixMilli(1_700_000_000_000), time.Minute)
	})
}
