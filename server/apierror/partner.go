package apierror

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/partners/scalepoint"
)

// FromPartner is the one place where partner errors meet the API contract: it turns an error
// of the partner packages (a *partnerhttp.Error, possibly inside an adapter's typed error, or an
// adapter's webhook or input error) into the gRPC status Covergate answers with —
// code, ErrorInfo{reason, domain "covergate", metadata partner, operation, http_status,
// partner_message, ...}. ok is false when err holds no partner error.
//
// The status message is generic on purpose: the cause may hold transport details (addresses,
// resolver errors) that are not the caller's business; they stay in the error for the logs.
func FromPartner(err error) (st *status.Status, ok bool) {
	if err == nil {
		return nil, false
	}
	// Inbound webhook verification errors come first: they are not partner calls.
	if st, ok := partnerWebhookStatus(err); ok {
		return st, true
	}
	var invalid *scalepoint.InvalidEventError
	if errors.As(err, &invalid) {
		violations := make([]FieldViolation, 0, len(invalid.Violations))
		for _, v := range invalid.Violations {
			violations = append(violations, FieldViolation{Field: v.Field, Description: v.Description})
		}
		return status.Convert(WithViolations(status.New(codes.InvalidArgument, invalid.Error()), violations...)), true
	}
	pe, ok := partnerhttp.As(err)
	if !ok {
		return nil, false
	}
	code, reason := partnerCodeReason(pe.Kind)
	md := map[string]string{
		"partner":     pe.Partner,
		"operation":   pe.Operation,
		"http_status": strconv.Itoa(pe.HTTPStatus),
	}
	if pe.PartnerMessage != "" {
		md["partner_message"] = pe.PartnerMessage
	}
	if host := pe.RefusedRedirectHost(); host != "" {
		md["refused_redirect_host"] = host // names the problem for the operator; no path or query
	}
	if pe.RetryAfter > 0 {
		md["retry_after_seconds"] = strconv.FormatInt(int64((pe.RetryAfter+time.Second-1)/time.Second), 10)
	}
	var aerr *avata.Error
	if errors.As(err, &aerr) && aerr.Code != "" {
		// Avata's own code tells a proposal mismatch from another rejection.
		md["partner_code"] = aerr.Code
	}
	st = status.New(code, fmt.Sprintf("partner %s: %s", pe.Partner, reasonText(reason)))
	withInfo, werr := st.WithDetails(Info(reason, md))
	if werr != nil {
		return st, true
	}
	return withInfo, true
}

// partnerCodeReason maps a partner failure kind to the gRPC code and reason of the contract.
// Our own credentials being refused is UNAVAILABLE: the caller cannot fix it. A partner's
// unusable answer is INTERNAL (HTTPStatus makes it a 502 over REST).
func partnerCodeReason(k partnerhttp.Kind) (codes.Code, insurancev1.ErrorReason) {
	switch k {
	case partnerhttp.KindRejected:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED
	case partnerhttp.KindRefused:
		return codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED
	case partnerhttp.KindForbidden:
		return codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED
	case etvas.KindTokenRejected:
		return codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED
	case partnerhttp.KindUnauthorized:
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED
	case partnerhttp.KindNotFound:
		return codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND
	case partnerhttp.KindConflict:
		return codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT
	case partnerhttp.KindInputTooLarge:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE
	case partnerhttp.KindRateLimited:
		return codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED
	case partnerhttp.KindUnavailable:
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE
	case partnerhttp.KindTimeout:
		return codes.DeadlineExceeded, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT
	case partnerhttp.KindCanceled:
		return codes.Canceled, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT
	case partnerhttp.KindCircuitOpen:
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN
	case partnerhttp.KindBadResponse:
		return codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE
	case partnerhttp.KindInvalidCall:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_INTERNAL
	case avata.KindWalletSignatureMalformed:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID
	case avata.KindWalletSignatureInvalid:
		return codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID
	case avata.KindWalletSessionExpired:
		return codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED
	case avata.KindWalletSignInRequired:
		return codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED
	default: // KindInternal and any kind this function does not know yet
		return codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL
	}
}

// partnerWebhookStatus maps the adapters' inbound verification errors.
func partnerWebhookStatus(err error) (*status.Status, bool) {
	var code codes.Code
	var reason insurancev1.ErrorReason
	var partner string
	var we *etvas.WebhookError
	var sa *scalepoint.WebhookAuthError
	switch {
	case errors.As(err, &we):
		partner = etvas.Partner
		switch we {
		case etvas.ErrSignatureMissing:
			code, reason = codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING
		case etvas.ErrSignatureInvalid:
			code, reason = codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID
		case etvas.ErrTimestampStale:
			code, reason = codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_TIMESTAMP_STALE
		default:
			return nil, false
		}
		return Status(code, reason, we.Error(), "partner", partner), true
	case errors.As(err, &sa):
		reason = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID
		if sa.Missing {
			reason = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING
		}
		return Status(codes.Unauthenticated, reason, sa.Error(), "partner", scalepoint.Partner), true
	}
	return nil, false
}

// reasonText is the human wording of a partner reason, used in status messages.
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
