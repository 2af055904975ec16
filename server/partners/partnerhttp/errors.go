package partnerhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
)

// ErrorDomain is the ErrorInfo domain of every error this gateway returns.
const ErrorDomain = apierror.Domain

// maxPartnerMessage bounds PartnerMessage (in runes): enough for a useful hint, too
// short to smuggle a payload into logs or API errors.
const maxPartnerMessage = 160

// Error is a failed partner call. It carries everything the API layer needs to answer
// the caller (Code, Reason, ErrorInfo metadata via GRPCStatus) and everything a partner
// package needs to refine it (HTTPStatus, Body). Error() never includes Body.
type Error struct {
	Partner, Operation string
	HTTPStatus         int    // 0 for transport errors / timeouts / open breaker
	PartnerMessage     string // short, sanitised, from the partner's error body (no PII, no secrets, truncated)
	Body               []byte // raw error body, for partner packages to parse typed errors; never logged
	Code               codes.Code
	Reason             insurancev1.ErrorReason
	RetryAfter         time.Duration
	Err                error // cause

	// transient marks failures another attempt may fix (transport, attempt timeout,
	// 429, 502/503/504); Do still retries only what the rules allow.
	transient bool
}

// Error describes the failure without the body or any request data.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Partner, e.Operation, reasonText(e.Reason))
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

// GRPCStatus lets status.FromError / status.Convert turn the error into a gRPC status with
// ErrorInfo{reason, domain apierror.Domain, metadata partner, operation, http_status,
// partner_message}. The status message is generic on purpose: the cause may hold
// transport details that are not the caller's business.
func (e *Error) GRPCStatus() *status.Status {
	msg := fmt.Sprintf("partner %s: %s", e.Partner, reasonText(e.Reason))
	st := status.New(e.Code, msg)
	md := map[string]string{
		"partner":     e.Partner,
		"operation":   e.Operation,
		"http_status": strconv.Itoa(e.HTTPStatus),
	}
	if e.PartnerMessage != "" {
		md["partner_message"] = e.PartnerMessage
	}
	if re, ok := asRedirect(e.Err); ok {
		md["refused_redirect_host"] = re.Host // names the problem for the operator; no path or query
	}
	if e.RetryAfter > 0 {
		md["retry_after_seconds"] = strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10)
	}
	withInfo, err := st.WithDetails(apierror.Info(e.Reason, md))
	if err != nil {
		// WithDetails fails only for an OK status or an unmarshalable detail; neither
		// can happen here, but a status without details is still a correct answer.
		return st
	}
	return withInfo
}

// reasonText is the human wording of a reason, used in messages.
func reasonText(r insurancev1.ErrorReason) string {
	switch r {
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE:
		return "partner unavailable"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT:
		return "partner timed out"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED:
		return "partner rate limited the request"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED:
		return "partner rejected the request"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED:
		return "partner refused our credentials"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND:
		return "partner has no such resource"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT:
		return "partner reported a conflict"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN:
		return "partner circuit open"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE:
		return "partner sent a bad response"
	case insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE:
		return "input too large for partner"
	default:
		return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(r.String(), "ERROR_REASON_"), "_", " "))
	}
}

// classifyStatus maps a non-2xx HTTP status to a gRPC code, reason and observer outcome.
func classifyStatus(httpStatus int) (codes.Code, insurancev1.ErrorReason, string) {
	switch {
	case httpStatus == http.StatusBadRequest || httpStatus == http.StatusUnprocessableEntity:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, OutcomeRejected
	case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
		// Our credentials are wrong: the caller cannot fix that, so it is UNAVAILABLE.
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, OutcomeAuthFailed
	case httpStatus == http.StatusNotFound:
		return codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, OutcomeNotFound
	case httpStatus == http.StatusConflict:
		return codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT, OutcomeConflict
	case httpStatus == http.StatusRequestEntityTooLarge:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE, OutcomeTooLarge
	case httpStatus == http.StatusTooManyRequests:
		return codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED, OutcomeRateLimited
	case httpStatus >= 500:
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, OutcomeUnavailable
	case httpStatus >= 400:
		// Other 4xx (405, 410, 415, ...): the partner refused what we sent.
		return codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, OutcomeRejected
	default:
		// 1xx/3xx that reached us unresolved: not something we can use.
		return codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE, OutcomeBadResponse
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
