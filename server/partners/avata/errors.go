package avata

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// Error codes the sandbox sends in {"message","code"} bodies (Avata's real
// codes are undocumented; the gateway should branch on HTTP status first).
const (
	CodeValidation       = "VALIDATION_ERROR"
	CodeProposalMismatch = "PROPOSAL_MISMATCH"
	CodeNotFound         = "NOT_FOUND"
	CodeAlreadyConfirmed = "ALREADY_CONFIRMED"
	CodeUnauthorized     = "UNAUTHORIZED"
	CodeInvalidState     = "INVALID_STATE"
	CodeClaimExists      = "CLAIM_EXISTS"
	CodeForbidden        = "FORBIDDEN"
)

// Error is a failed Avata call. HTTP carries the kind of failure, HTTP status
// and sanitised partner message; Code is Avata's own error code from the
// error body, when it sent one (the API edge reports it as "partner_code").
type Error struct {
	HTTP *partnerhttp.Error
	Code string
}

// Error describes the failure without bodies or request data.
func (e *Error) Error() string {
	msg := e.HTTP.Error() // already starts with the partner name
	if e.Code != "" {
		msg += " [" + e.Code + "]"
	}
	return msg
}

// Unwrap exposes the *partnerhttp.Error (and through it the cause).
func (e *Error) Unwrap() error { return e.HTTP }

// Avata-specific kinds of failure, beyond partnerhttp's. The API edge maps them to reasons.
const (
	// KindWalletSignatureMalformed: a wallet signature we were given is not a signature at all.
	KindWalletSignatureMalformed partnerhttp.Kind = "avata: wallet signature malformed"
	// KindWalletSignatureInvalid: Avata refused the wallet's sign-in signature.
	KindWalletSignatureInvalid partnerhttp.Kind = "avata: wallet signature invalid"
	// KindWalletSessionExpired: Avata refused a customer's wallet token; the customer signs in again.
	KindWalletSessionExpired partnerhttp.Kind = "avata: wallet session expired"
	// KindWalletSignInRequired: a customer wallet call without a wallet token.
	KindWalletSignInRequired partnerhttp.Kind = "avata: wallet sign-in required"
)

// wrapError turns partnerhttp failures into *Error, reading Avata's
// {"message","code"} body for the code.
func wrapError(err error) error {
	var perr *partnerhttp.Error
	if !errors.As(err, &perr) {
		return err
	}
	e := &Error{HTTP: perr}
	if len(perr.Body) > 0 {
		var body ErrorBody
		if json.Unmarshal(perr.Body, &body) == nil {
			e.Code = sanitizeCode(body.Code)
		}
	}
	return e
}

// IsClaimExists reports whether err is Avata refusing a claim because the
// policy already has one. The reference does not say how a duplicate is
// answered, so every reading counts: Avata's CLAIM_EXISTS code, or — when
// the error body has no code — a 409 on claim creation that says nothing
// else, or a 400/409/2xx whose message says the claim exists. A 409 with
// another code (e.g. the policy is not active) is not a duplicate.
func IsClaimExists(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.HTTP == nil {
		return false
	}
	if e.Code != "" {
		return e.Code == CodeClaimExists
	}
	if e.HTTP.Operation != "claim_create" {
		return false
	}
	switch e.HTTP.HTTPStatus {
	case http.StatusConflict:
		return e.HTTP.PartnerMessage == "" || claimExistsMessage(e.HTTP.PartnerMessage)
	case http.StatusBadRequest:
		return claimExistsMessage(e.HTTP.PartnerMessage)
	}
	return false
}

// claimExistsMessage recognises "claim already exists" style messages.
func claimExistsMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "claim") && (strings.Contains(m, "exist") || strings.Contains(m, "already"))
}

// sanitizeCode keeps only a short machine code: [A-Za-z0-9_.-], ≤ 64 chars.
func sanitizeCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return ""
		}
	}
	return s
}
