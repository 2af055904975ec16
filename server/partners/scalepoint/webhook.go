package scalepoint

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// WebhookAuthError is a webhook delivery without valid credentials. Scalepoint's webhook
// authentication is configured per customer and undocumented, so the
// gateway requires a shared bearer token.
type WebhookAuthError struct {
	Missing bool // no Authorization: Bearer header at all
}

func (e *WebhookAuthError) Error() string {
	if e.Missing {
		return "scalepoint: webhook without bearer token"
	}
	return "scalepoint: webhook bearer token does not match"
}

// VerifyWebhookAuth checks a webhook's Authorization header against the configured token
// in constant time (hashing first, so neither length nor content leaks through timing).
func VerifyWebhookAuth(authorization, token string) error {
	const prefix = "bearer "
	if len(authorization) <= len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return &WebhookAuthError{Missing: true}
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(authorization[len(prefix):])))
	want := sha256.Sum256([]byte(token))
	if token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return &WebhookAuthError{}
	}
	return nil
}
