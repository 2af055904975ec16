package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantCode   codes.Code
		wantReason insurancev1.ErrorReason
		wantMsg    string
	}{
		{"plain error is internal and hidden", errors.New("pq: password=hunter2"), codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, "internal error"},
		{"status without info gets a reason", status.Error(codes.NotFound, "gone"), codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, "gone"},
		{"existing reason is kept", New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH, "stale"), codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH, "stale"},
		{"wrapped status", fmt.Errorf("ctx: %w", New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, "down")), codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, "down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Normalize(tc.err, "request_id", "r-1")
			if st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
			info := InfoOf(st)
			if info == nil || info.GetReason() != tc.wantReason.String() || info.GetDomain() != Domain {
				t.Fatalf("ErrorInfo = %v", info)
			}
			if info.GetMetadata()["request_id"] != "r-1" {
				t.Errorf("request_id missing: %v", info.GetMetadata())
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH, ""), http.StatusPreconditionFailed},
		{New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT, ""), http.StatusConflict},
		{New(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE, ""), http.StatusRequestEntityTooLarge},
		{New(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, ""), http.StatusUnprocessableEntity},
		{New(codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, ""), http.StatusForbidden},
		{New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, ""), http.StatusUnauthorized},
		{New(codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_RATE_LIMITED, ""), http.StatusTooManyRequests},
		{New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, ""), http.StatusServiceUnavailable},
		{New(codes.DeadlineExceeded, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, ""), http.StatusGatewayTimeout},
		{New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH, ""), http.StatusBadRequest},
		{status.Error(codes.Internal, "x"), http.StatusInternalServerError},
		// A partner's unusable answer is the partner's failure seen through us: 502, whatever
		// the gRPC code.
		{New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE, ""), http.StatusBadGateway},
		{New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE, ""), http.StatusBadGateway},
	}
	for _, tc := range cases {
		if got := HTTPStatus(status.Convert(tc.err)); got != tc.want {
			t.Errorf("%v: HTTP %d, want %d", tc.err, got, tc.want)
		}
	}
}
