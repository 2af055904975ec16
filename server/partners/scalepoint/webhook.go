package scalepoint

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
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

// GRPCStatus is UNAUTHENTICATED with reason WEBHOOK_SIGNATURE_MISSING or _INVALID.
func (e *WebhookAuthError) GRPCStatus() *status.Status {
	reason := insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID
	if e.Missing {
		reason = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING
	}
	st := status.New(codes.Unauthenticated, e.Error())
	if d, err := st.WithDetails(apierror.Info(reason, map[string]string{"partner": partnerName})); err == nil {
		return d
	}
	return st
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
