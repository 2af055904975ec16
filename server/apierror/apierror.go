// Package apierror builds the errors Covergate returns: a gRPC status whose details carry a
// google.rpc.ErrorInfo (reason from the contract's ErrorReason enum, domain "covergate") and,
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

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// Domain is the ErrorInfo domain of every Covergate error.
const Domain = "covergate"

// New returns a status error with an ErrorInfo. kv are metadata key/value pairs; an odd trailing
// key is ignored. Metadata must never hold secrets or personal data.
func New(code codes.Code, reason insurancev1.ErrorReason, msg string, kv ...string) error {
	return Status(code, reason, msg, kv...).Err()
}

// Status is New without converting to error, for callers that add more details.
func Status(code codes.Code, reason insurancev1.ErrorReason, msg string, kv ...string) *status.Status {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason.String(), Domain: Domain, Metadata: pairs(kv)}
	withInfo, err := st.WithDetails(info)
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
	Reason      string // the validation rule id, e.g. "string.uuid"
}

// Invalid returns INVALID_ARGUMENT with reason VALIDATION_FAILED and a BadRequest listing every
// violation.
func Invalid(msg string, violations []FieldViolation) error {
	st := Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, msg)
	return badRequestStatus(st, violations).Err()
}

// badRequestStatus adds a BadRequest listing violations to st.
func badRequestStatus(st *status.Status, violations []FieldViolation) *status.Status {
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description, Reason: v.Reason,
		})
	}
	withBR, err := st.WithDetails(br)
	if err != nil {
		return st
	}
	return withBR
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
	info := &errdetails.ErrorInfo{Reason: reasonFor(st.Code()).String(), Domain: Domain, Metadata: extra}
	packed, err := anypb.New(info)
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
		case insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH.String():
			return http.StatusPreconditionFailed
		case insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE.String():
			return http.StatusRequestEntityTooLarge
		case insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED.String():
			return http.StatusUnprocessableEntity
		case insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED.String():
			return http.StatusMethodNotAllowed
		case insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID.String():
			return http.StatusForbidden
		case insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE.String():
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
