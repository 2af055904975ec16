package etvas

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// DefaultWebhookWindow is the accepted distance between an event's timestamp and now
// (the Etvas SDK's default).
const DefaultWebhookWindow = 60 * time.Second

// WebhookError is a rejected inbound Etvas event. The three values below are the only
// instances, so errors.Is works; each knows its HTTP answer (the API edge maps them to a
// gRPC status).
type WebhookError struct {
	msg        string
	httpStatus int
}

// Webhook verification failures (as the etvas-sdk answers them: missing header or stale timestamp → 400,
// bad signature → 403).
var (
	ErrSignatureMissing = &WebhookError{"etvas webhook: x-etvas-signature header missing", http.StatusBadRequest}
	ErrSignatureInvalid = &WebhookError{"etvas webhook: signature does not match the body", http.StatusForbidden}
	ErrTimestampStale   = &WebhookError{"etvas webhook: event timestamp outside the accepted window", http.StatusBadRequest}
)

func (e *WebhookError) Error() string { return e.msg }

// HTTPStatus is the status to answer the partner with.
func (e *WebhookError) HTTPStatus() int { return e.httpStatus }

// SignWebhook returns hex(HMAC-SHA256(secret, body)), the x-etvas-signature value.
func SignWebhook(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhookSignature checks header (the x-etvas-signature value) against the raw
// body in constant time. A "sha256=" prefix and upper-case hex are tolerated.
func VerifyWebhookSignature(secret, rawBody []byte, header string) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	header = strings.TrimPrefix(header, "sha256=")
	got, err := hex.DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return ErrSignatureInvalid
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(rawBody)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrSignatureInvalid
	}
	return nil
}

// CheckTimestamp rejects an event whose timestamp (milliseconds since the epoch) is more
// than window away from now, in either direction: a replayed old event and one from a
// badly skewed clock are both refused. A zero timestamp is treated as stale.
func CheckTimestamp(tsMillis int64, now time.Time, window time.Duration) error {
	if tsMillis <= 0 {
		return ErrTimestampStale
	}
	d := now.Sub(time.UnixMilli(tsMillis))
	if d < 0 {
		d = -d
	}
	if d > window {
		return ErrTimestampStale
	}
	return nil
}
