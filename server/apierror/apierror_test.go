package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
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
			if info == nil || info.GetReason() != Reason(tc.wantReason) || info.GetDomain() != Domain {
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

// TestReasonWireForm pins the AIP-193 wire form: UPPER_SNAKE_CASE without the enum prefix, for
// every ErrorReason, and that ParseReason reads it back.
func TestReasonWireForm(t *testing.T) {
	for num, name := range insurancev1.ErrorReason_name {
		r := insurancev1.ErrorReason(num)
		got := Reason(r)
		if got == name || strings.HasPrefix(got, "ERROR_REASON_") || got != strings.ToUpper(got) || got == "" {
			t.Errorf("Reason(%s) = %q", name, got)
		}
		if r == insurancev1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		if back, ok := ParseReason(got); !ok || back != r {
			t.Errorf("ParseReason(%q) = %v, %v", got, back, ok)
		}
	}
	if got := Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT); got != "PARTNER_TIMEOUT" {
		t.Errorf("PARTNER_TIMEOUT: got %q", got)
	}
	for _, bad := range []string{"", "UNSPECIFIED", "ERROR_REASON_NOT_FOUND", "not_found"} {
		if _, ok := ParseReason(bad); ok {
			t.Errorf("ParseReason(%q) accepted", bad)
		}
	}
}

func TestFieldViolationReason(t *testing.T) {
	cases := map[string]string{
		"string.uuid":                "STRING_UUID",
		"string.min_len":             "STRING_MIN_LEN",
		"required":                   "REQUIRED",
		"repeated.items.string.uuid": "REPEATED_ITEMS_STRING_UUID",
		"quote.expiry_after_start":   "QUOTE_EXPIRY_AFTER_START",
		"data.encoded_too_large":     "DATA_ENCODED_TOO_LARGE",
		"STRING_UUID":                "STRING_UUID",
		"a..b-c":                     "A_B_C",
		"":                           "",
	}
	for in, want := range cases {
		if got := FieldViolationReason(in); got != want {
			t.Errorf("FieldViolationReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInvalidViolationReasons checks that Invalid and WithViolations send UPPER_SNAKE_CASE
// violation reasons and the VALIDATION_FAILED ErrorInfo in the contract's domain.
func TestInvalidViolationReasons(t *testing.T) {
	err := Invalid("bad", []FieldViolation{{Field: "policy_id", Description: "must be a UUID", Reason: "string.uuid"}})
	st := status.Convert(err)
	if info := InfoOf(st); info.GetReason() != "VALIDATION_FAILED" || info.GetDomain() != "covergate.insurance.v1" {
		t.Fatalf("ErrorInfo = %v", info)
	}
	var got []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				got = append(got, v.GetField()+"|"+v.GetReason())
			}
		}
	}
	if len(got) != 1 || got[0] != "policy_id|STRING_UUID" {
		t.Errorf("violations = %v", got)
	}
}
