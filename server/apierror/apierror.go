// Package apierror builds the errors Covergate returns: a gRPC status whose details carry a
// google.rpc.ErrorInfo (reason from the contract's ErrorReason enum in AIP-193 form, domain
// Domain) and,
// for invalid input, a google.rpc.BadRequest. The same status becomes the JSON body of REST
// errors, so clients see one error model on both transports.
//
// Partner packages know nothing of this contract: they return their own error types
// (partnerhttp.Error with a Kind, adapter-specific kinds and webhook errors), and FromPartner
// translates them here, at the edge.
package apierror

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// Domain is the ErrorInfo domain of every Covergate error (AIP-193: a stable service name). It
// is the proto package that defines ErrorReason, so a reason is unique within its domain.
const Domain = "covergate.insurance.v1"

// reasonPrefix is the enum-value prefix buf lint requires in proto and AIP-193 leaves off the wire.
const reasonPrefix = "ERROR_REASON_"

// Reason is the ErrorInfo.reason string of r on the wire (AIP-193: UPPER_SNAKE_CASE without the
// enum prefix, e.g. "PARTNER_TIMEOUT"). Every ErrorInfo Covergate builds gets its reason here, and
// every comparison with a reason read from the wire uses it too.
func Reason(r insurancev1.ErrorReason) string {
	return strings.TrimPrefix(r.String(), reasonPrefix)
}

// Info is the ErrorInfo for reason r: the one place an ErrorInfo is built, so its reason and
// domain follow the contract wherever the error starts (API, partner adapters, webhooks).
func Info(r insurancev1.ErrorReason, metadata map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: Reason(r), Domain: Domain, Metadata: metadata}
}

// ParseReason is the inverse of Reason; ok is false for a string that names no ErrorReason.
func ParseReason(s string) (insurancev1.ErrorReason, bool) {
	v, ok := insurancev1.ErrorReason_value[reasonPrefix+s]
	if !ok || v == 0 {
		return insurancev1.ErrorReason_ERROR_REASON_UNSPECIFIED, false
	}
	return insurancev1.ErrorReason(v), true
}

// FieldViolationReason is the BadRequest.FieldViolation.reason of a protovalidate rule id:
// UPPER_SNAKE_CASE like ErrorInfo reasons (AIP-193), e.g. "string.uuid" -> "STRING_UUID",
// "string.min_len" -> "STRING_MIN_LEN", a CEL rule "quote.expiry_after_start" ->
// "QUOTE_EXPIRY_AFTER_START".
func FieldViolationReason(ruleID string) string {
	var b strings.Builder
	prevUnderscore := true
	for _, r := range ruleID {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			prevUnderscore = false
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			prevUnderscore = false
		default:
			if !prevUnderscore {
				b.WriteByte('_')
				prevUnderscore = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// New returns a status error with an ErrorInfo. kv are metadata key/value pairs; an odd trailing
// key is ignored. Metadata must never hold secrets or personal data.
func New(code codes.Code, reason insurancev1.ErrorReason, msg string, kv ...string) error {
	return Status(code, reason, msg, kv...).Err()
}

// Status is New without converting to error, for callers that add more details.
func Status(code codes.Code, reason insurancev1.ErrorReason, msg string, kv ...string) *status.Status {
	st := status.New(code, msg)
	withInfo, err := st.WithDetails(Info(reason, pairs(kv)))
	if err != nil {
		// WithDetails only fails for an OK status or an unmarshalable detail; neither can
		// happen here, but a plain status is still a correct answer.
		return st
	}
	return withInfo
}

// FieldViolation is one invalid field of a request.
type FieldViolation struct {
	Field       string // field path, e.g. "total_value.amount"
	Description string // what is wrong, in words
	Reason      string // the rule, e.g. protovalidate's "string.uuid"; sent as "STRING_UUID"
}

// Invalid returns INVALID_ARGUMENT with reason VALIDATION_FAILED and a BadRequest listing every
// violation.
func Invalid(msg string, violations []FieldViolation) error {
	return WithViolations(Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, msg), violations...)
}

// WithViolations adds a google.rpc.BadRequest listing violations to st. It is the one place a
// BadRequest is built: each violation's reason goes through FieldViolationReason, so every
// BadRequest carries UPPER_SNAKE_CASE reasons whatever spelling the caller used.
func WithViolations(st *status.Status, violations ...FieldViolation) error {
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description, Reason: FieldViolationReason(v.Reason),
		})
	}
	withBR, err := st.WithDetails(br)
	if err != nil {
		return st.Err()
	}
	return withBR.Err()
}

// InfoOf returns the ErrorInfo of a status, or nil.
func InfoOf(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// Normalize makes any error a status with an ErrorInfo. Errors that are not statuses are
// internal faults: their text may hold details callers must not see, so the message is replaced.
// kv metadata (request id, trace id) is added to the ErrorInfo; existing keys win.
func Normalize(err error, kv ...string) *status.Status {
	st, ok := statusOf(err)
	if !ok {
		switch {
		case errors.Is(err, context.Canceled):
			st = status.New(codes.Canceled, "request canceled")
		case errors.Is(err, context.DeadlineExceeded):
			st = status.New(codes.DeadlineExceeded, "deadline exceeded")
		default:
			st = status.New(codes.Internal, "internal error")
		}
	}
	if st.Code() == codes.OK {
		return st
	}
	p := st.Proto()
	extra := pairs(kv)
	for i, d := range p.GetDetails() {
		var info errdetails.ErrorInfo
		if d.MessageIs(&info) {
			if err := d.UnmarshalTo(&info); err != nil || len(extra) == 0 {
				return st
			}
			if info.Metadata == nil {
				info.Metadata = map[string]string{}
			}
			for k, v := range extra {
				if _, exists := info.Metadata[k]; !exists {
					info.Metadata[k] = v
				}
			}
			if packed, err := anypb.New(&info); err == nil {
				p.Details[i] = packed
			}
			return status.FromProto(p)
		}
	}
	packed, err := anypb.New(Info(reasonFor(st.Code()), extra))
	if err != nil {
		return st
	}
	p.Details = append([]*anypb.Any{packed}, p.GetDetails()...)
	return status.FromProto(p)
}

// statusOf finds the status in err's chain, translating a partner error (FromPartner). Unlike
// status.FromError it keeps the status's own message: wrapping adds context for logs, not for
// callers.
func statusOf(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if st := se.GRPCStatus(); st != nil {
			return st, true
		}
	}
	return FromPartner(err)
}

// IsStatus reports whether err already has an API answer: a gRPC status (an apierror) or a
// partner error FromPartner translates.
func IsStatus(err error) bool {
	_, ok := statusOf(err)
	return ok
}

// Code is the gRPC code err is answered with (see Normalize).
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	return Normalize(err).Code()
}

// ReasonOf returns the ErrorInfo reason of err, or "" when there is none.
func ReasonOf(err error) string {
	st, ok := statusOf(err)
	if !ok {
		return ""
	}
	if info := InfoOf(st); info != nil {
		return info.GetReason()
	}
	return ""
}

// reasonFor gives statuses created without an ErrorInfo (by gRPC itself, grpc-gateway or a
// library) a reason, so that clients can always switch on one.
func reasonFor(c codes.Code) insurancev1.ErrorReason {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST
	case codes.Unauthenticated:
		return insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED
	case codes.PermissionDenied:
		return insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED
	case codes.NotFound:
		return insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND
	case codes.AlreadyExists:
		return insurancev1.ErrorReason_ERROR_REASON_ALREADY_EXISTS
	case codes.Unimplemented:
		return insurancev1.ErrorReason_ERROR_REASON_NOT_IMPLEMENTED
	case codes.ResourceExhausted:
		return insurancev1.ErrorReason_ERROR_REASON_RATE_LIMITED
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE
	case codes.FailedPrecondition, codes.Aborted:
		return insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE
	default:
		return insurancev1.ErrorReason_ERROR_REASON_INTERNAL
	}
}

// HTTPStatus maps a status to the HTTP status of its REST answer. It follows grpc-gateway's
// mapping except where the reason is more precise: a stale etag is 412, an oversize body 413,
// an idempotency key reused with another request 422, and a payload rejected by the partner
// for its size 413.
func HTTPStatus(st *status.Status) int {
	if info := InfoOf(st); info != nil {
		switch info.GetReason() {
		case Reason(insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH):
			return http.StatusPreconditionFailed
		case Reason(insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE):
			return http.StatusRequestEntityTooLarge
		case Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED):
			return http.StatusUnprocessableEntity
		case Reason(insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED):
			return http.StatusMethodNotAllowed
		case Reason(insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID):
			return http.StatusForbidden
		case Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE):
			// The partner answered something we cannot use: a gateway's 502, not our 500.
			return http.StatusBadGateway
		}
	}
	return codeToHTTP(st.Code())
}

func codeToHTTP(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // client closed request, as nginx and grpc-gateway report it
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func pairs(kv []string) map[string]string {
	if len(kv) < 2 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}
