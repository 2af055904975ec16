package partnerhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// maxPartnerMessage bounds PartnerMessage (in runes): enough for a useful hint, too
// short to smuggle a payload into logs or API errors.
const maxPartnerMessage = 160

// Kind says what went wrong with a partner call, in partner terms. The API edge
// (apierror) turns a Kind into a gRPC code and an ErrorInfo reason; this package knows
// nothing of the API contract. Adapters add their own kinds (e.g. avata.KindWalletSessionExpired).
type Kind string

// The kinds every partner call can end with. The value is the human wording used in messages.
const (
	KindInternal      Kind = "internal error"                   // we could not build or send the request (our fault)
	KindInvalidCall   Kind = "invalid call"                     // the caller of the adapter passed something unusable (our fault, caller side)
	KindRejected      Kind = "partner rejected the request"     // 400/422, or refused by the adapter before sending
	KindRefused       Kind = "partner refused the request"      // another 4xx (405, 410, 415, ...)
	KindForbidden     Kind = "partner denied access"            // the partner says the caller may not touch the resource
	KindUnauthorized  Kind = "partner refused our credentials"  // 401/403 to our credentials, or getting credentials failed
	KindNotFound      Kind = "partner has no such resource"     // 404
	KindConflict      Kind = "partner reported a conflict"      // 409 or a documented conflict answer
	KindInputTooLarge Kind = "input too large for partner"      // 413, or refused by the adapter for its size
	KindRateLimited   Kind = "partner rate limited the request" // 429
	KindUnavailable   Kind = "partner unavailable"              // 5xx, transport failure
	KindTimeout       Kind = "partner timed out"                // attempt timeout or the caller's deadline
	KindCanceled      Kind = "call canceled"                    // the caller went away
	KindCircuitOpen   Kind = "partner circuit open"             // the breaker refused to send
	KindBadResponse   Kind = "partner sent a bad response"      // an answer we cannot use (redirect, oversize, undecodable)
)

// Error is a failed partner call. It carries what the API edge needs to answer the caller
// (Kind, HTTPStatus, PartnerMessage, RetryAfter) and what a partner package needs to refine
// it (Body). Error() never includes Body.
type Error struct {
	Partner, Operation string
	Kind               Kind
	HTTPStatus         int    // 0 for transport errors / timeouts / open breaker
	PartnerMessage     string // short, sanitised, from the partner's error body (no PII, no secrets, truncated)
	Body               []byte // raw error body, for partner packages to parse typed errors; never logged
	RetryAfter         time.Duration
	// Retryable marks failures another attempt may fix (transport, attempt timeout, 429,
	// 502/503/504); Do still retries only what the rules allow (idempotent requests).
	Retryable bool
	Err       error // cause: may hold transport details, for logs only
}

// Error describes the failure without the body or any request data.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Partner, e.Operation, e.Kind)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (http %d)", e.HTTPStatus)
	}
	if e.PartnerMessage != "" {
		fmt.Fprintf(&b, ": partner says %q", e.PartnerMessage)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// RefusedRedirectHost is the host of a redirect the call refused to follow, or "".
func (e *Error) RefusedRedirectHost() string {
	if re, ok := asRedirect(e.Err); ok {
		return re.Host
	}
	return ""
}

// As returns the *Error in err's chain.
func As(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) && pe != nil {
		return pe, true
	}
	return nil, false
}

// KindOf returns the Kind of the partner error in err's chain, or "" when there is none.
func KindOf(err error) Kind {
	if pe, ok := As(err); ok {
		return pe.Kind
	}
	return ""
}

// IsCircuitOpen reports whether the call was refused because the partner's breaker is open
// (nothing was sent).
func IsCircuitOpen(err error) bool { return KindOf(err) == KindCircuitOpen }

// IsRetryable reports whether another attempt of the same call may succeed.
func IsRetryable(err error) bool {
	pe, ok := As(err)
	return ok && pe.Retryable
}

// IsTimeout reports whether the call ran out of time (attempt timeout or caller deadline).
func IsTimeout(err error) bool { return KindOf(err) == KindTimeout }

// IsNotFound reports whether the partner has no such resource.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsRefusedBeforeSending reports whether the adapter refused the call itself (invalid or
// oversize input, caller mistake) without the partner seeing it.
func IsRefusedBeforeSending(err error) bool {
	pe, ok := As(err)
	if !ok || pe.HTTPStatus != 0 {
		return false
	}
	switch pe.Kind {
	case KindRejected, KindRefused, KindInputTooLarge, KindInvalidCall:
		return true
	}
	return false
}

// partnerSide reports whether the failure is the partner's trouble (worth a warning in logs),
// as opposed to a routine refusal of our input.
func (e *Error) partnerSide() bool {
	switch e.Kind {
	case KindUnavailable, KindTimeout, KindRateLimited, KindInternal, KindBadResponse,
		KindUnauthorized, KindCircuitOpen:
		return true
	}
	return false
}

// classifyStatus maps a non-2xx HTTP status to a kind and observer outcome.
func classifyStatus(httpStatus int) (Kind, string) {
	switch {
	case httpStatus == http.StatusBadRequest || httpStatus == http.StatusUnprocessableEntity:
		return KindRejected, OutcomeRejected
	case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
		// Our credentials are wrong: the caller cannot fix that.
		return KindUnauthorized, OutcomeAuthFailed
	case httpStatus == http.StatusNotFound:
		return KindNotFound, OutcomeNotFound
	case httpStatus == http.StatusConflict:
		return KindConflict, OutcomeConflict
	case httpStatus == http.StatusRequestEntityTooLarge:
		return KindInputTooLarge, OutcomeTooLarge
	case httpStatus == http.StatusTooManyRequests:
		return KindRateLimited, OutcomeRateLimited
	case httpStatus >= 500:
		return KindUnavailable, OutcomeUnavailable
	case httpStatus >= 400:
		// Other 4xx (405, 410, 415, ...): the partner refused what we sent.
		return KindRefused, OutcomeRejected
	default:
		// 1xx/3xx that reached us unresolved: not something we can use.
		return KindBadResponse, OutcomeBadResponse
	}
}

// messageFields are the JSON fields partners use for a human-readable error, in order of
// preference (Etvas/Avata "message", OAuth "error_description"/"error", RFC 7807 "detail"/"title").
var messageFields = [...]string{"message", "error_description", "detail", "title", "error", "errorMessage"}

// PartnerMessageFromBody extracts a short, sanitised message from a JSON error body, or
// "" when there is none. Non-JSON bodies (HTML from a proxy, stack traces) yield "": they
// are never useful to the caller and may leak internals.
func PartnerMessageFromBody(body []byte) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return ""
	}
	for _, name := range messageFields {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			continue // e.g. "error": {...}: not a message
		}
		if msg := SanitizeMessage(s); msg != "" {
			return msg
		}
	}
	return ""
}

var (
	emailPattern  = regexp.MustCompile(`[^\s@"'<>]+@[^\s@"'<>]+\.[A-Za-z]{2,}`)
	tokenPattern  = regexp.MustCompile(`[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}`)
	hexPattern    = regexp.MustCompile(`(?i)\b(0x)?[0-9a-f]{32,}\b`)
	digitsPattern = regexp.MustCompile(`\+?\d[\d\s\-]{5,}\d`)
)

// SanitizeMessage makes a partner-supplied string safe to put into errors and logs:
// control characters removed, e-mail addresses, JWT-like tokens, long hex strings (keys,
// hashes, wallet addresses) and long digit runs (phone, card, account numbers) replaced by
// "[redacted]", whitespace collapsed and the result truncated.
func SanitizeMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = emailPattern.ReplaceAllString(s, "[redacted]")
	s = tokenPattern.ReplaceAllString(s, "[redacted]")
	s = hexPattern.ReplaceAllString(s, "[redacted]")
	s = digitsPattern.ReplaceAllString(s, "[redacted]")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxPartnerMessage {
		s = string(r[:maxPartnerMessage-1]) + "…"
	}
	return s
}
