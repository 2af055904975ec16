package apierror_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/partners/scalepoint"
)

// TestFromPartnerKinds pins the contract every partner failure kind is answered with, over
// gRPC (code, reason) and REST (HTTP status).
func TestFromPartnerKinds(t *testing.T) {
	cases := []struct {
		kind     partnerhttp.Kind
		code     codes.Code
		reason   insurancev1.ErrorReason
		httpCode int
		message  string
	}{
		{partnerhttp.KindRejected, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 400, "partner rejected the request"},
		{partnerhttp.KindRefused, codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 400, "partner rejected the request"},
		{partnerhttp.KindForbidden, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 403, "partner rejected the request"},
		{partnerhttp.KindUnauthorized, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED, 503, "partner refused our credentials"},
		{partnerhttp.KindNotFound, codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, 404, "partner has no such resource"},
		{partnerhttp.KindConflict, codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT, 409, "partner reported a conflict"},
		{partnerhttp.KindInputTooLarge, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE, 400, "input too large for partner"},
		{partnerhttp.KindRateLimited, codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED, 429, "partner rate limited the request"},
		{partnerhttp.KindUnavailable, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE, 503, "partner unavailable"},
		{partnerhttp.KindTimeout, codes.DeadlineExceeded, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, 504, "partner timed out"},
		{partnerhttp.KindCanceled, codes.Canceled, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, 499, "partner timed out"},
		{partnerhttp.KindCircuitOpen, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN, 503, "partner circuit open"},
		{partnerhttp.KindBadResponse, codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE, 502, "partner sent a bad response"},
		{partnerhttp.KindInternal, codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, 500, "internal"},
		{partnerhttp.KindInvalidCall, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, 400, "internal"},
		{etvas.KindTokenRejected, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, 401, "partner rejected the request"},
		{avata.KindWalletSignatureMalformed, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID, 400, "wallet signature invalid"},
		{avata.KindWalletSignatureInvalid, codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID, 400, "wallet signature invalid"},
		{avata.KindWalletSessionExpired, codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED, 400, "wallet session expired"},
		{avata.KindWalletSignInRequired, codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED, 400, "wallet sign in required"},
		{partnerhttp.Kind("a kind the edge does not know"), codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, 500, "internal"},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			cause := errors.New("dial tcp 10.1.2.3:443: connection refused")
			err := fmt.Errorf("quote: %w", &partnerhttp.Error{
				Partner: "etvas", Operation: "purchase", Kind: tc.kind, HTTPStatus: 418, PartnerMessage: "teapot", Err: cause,
			})
			st, ok := apierror.FromPartner(err)
			if !ok {
				t.Fatal("not recognised")
			}
			if st.Code() != tc.code || apierror.HTTPStatus(st) != tc.httpCode {
				t.Fatalf("code %v http %d, want %v %d", st.Code(), apierror.HTTPStatus(st), tc.code, tc.httpCode)
			}
			if want := "partner etvas: " + tc.message; st.Message() != want {
				t.Fatalf("message %q, want %q", st.Message(), want)
			}
			info := apierror.InfoOf(st)
			if info.GetReason() != apierror.Reason(tc.reason) || info.GetDomain() != apierror.Domain {
				t.Fatalf("ErrorInfo %v", info)
			}
			md := info.GetMetadata()
			if md["partner"] != "etvas" || md["operation"] != "purchase" || md["http_status"] != "418" || md["partner_message"] != "teapot" {
				t.Fatalf("metadata %v", md)
			}
			// The transport detail stays in the error (for logs), never in the answer.
			if strings.Contains(fmt.Sprint(st.Proto()), "10.1.2.3") || !strings.Contains(err.Error(), "10.1.2.3") {
				t.Fatalf("cause leaked or lost: %v", st.Proto())
			}
			if apierror.Code(err) != tc.code || apierror.ReasonOf(err) != apierror.Reason(tc.reason) || !apierror.IsStatus(err) {
				t.Fatalf("Code/ReasonOf/IsStatus disagree with FromPartner")
			}
		})
	}
}

func TestFromPartnerDetails(t *testing.T) {
	t.Run("retry after and avata code", func(t *testing.T) {
		err := &avata.Error{Code: avata.CodeProposalMismatch, HTTP: &partnerhttp.Error{
			Partner: "avata", Operation: "confirm", Kind: partnerhttp.KindRateLimited, HTTPStatus: 429,
			RetryAfter: 1500 * time.Millisecond,
		}}
		st, _ := apierror.FromPartner(err)
		md := apierror.InfoOf(st).GetMetadata()
		if md["retry_after_seconds"] != "2" || md["partner_code"] != avata.CodeProposalMismatch || md["partner_message"] != "" {
			t.Fatalf("metadata %v", md)
		}
	})
	t.Run("refused redirect names the host only", func(t *testing.T) {
		err := &partnerhttp.Error{Partner: "etvas", Operation: "op", Kind: partnerhttp.KindBadResponse, HTTPStatus: 302,
			Err: &partnerhttp.RedirectError{Status: 302, Host: "evil.example"}}
		st, _ := apierror.FromPartner(err)
		if got := apierror.InfoOf(st).GetMetadata()["refused_redirect_host"]; got != "evil.example" {
			t.Fatalf("refused_redirect_host %q", got)
		}
	})
	t.Run("webhook errors", func(t *testing.T) {
		for _, tc := range []struct {
			err    error
			code   codes.Code
			reason insurancev1.ErrorReason
			http   int
		}{
			{etvas.ErrSignatureMissing, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING, 400},
			{etvas.ErrSignatureInvalid, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID, 403},
			{etvas.ErrTimestampStale, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_TIMESTAMP_STALE, 400},
			{&scalepoint.WebhookAuthError{Missing: true}, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING, 401},
			{&scalepoint.WebhookAuthError{}, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID, 403},
		} {
			st, ok := apierror.FromPartner(fmt.Errorf("verify: %w", tc.err))
			info := apierror.InfoOf(st)
			if !ok || st.Code() != tc.code || info.GetReason() != apierror.Reason(tc.reason) || apierror.HTTPStatus(st) != tc.http ||
				info.GetMetadata()["partner"] == "" || st.Message() != tc.err.Error() {
				t.Fatalf("%v → %v %v", tc.err, st, info)
			}
		}
	})
	t.Run("invalid scalepoint event lists the fields", func(t *testing.T) {
		err := &scalepoint.InvalidEventError{Violations: []scalepoint.FieldViolation{{Field: "payload.caseNumber", Description: "must be a non-empty string"}}}
		st, ok := apierror.FromPartner(err)
		if !ok || st.Code() != codes.InvalidArgument {
			t.Fatalf("got %v", st)
		}
		br, _ := st.Details()[0].(*errdetails.BadRequest)
		if br == nil || br.FieldViolations[0].Field != "payload.caseNumber" {
			t.Fatalf("details %v", st.Details())
		}
		if n := apierror.Normalize(err); apierror.InfoOf(n).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST) {
			t.Fatalf("normalized %v", n)
		}
	})
	t.Run("other errors are not partner errors", func(t *testing.T) {
		for _, err := range []error{nil, errors.New("x"), apierror.New(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, "gone")} {
			if _, ok := apierror.FromPartner(err); ok {
				t.Fatalf("%v recognised as a partner error", err)
			}
		}
		if st := apierror.Normalize(errors.New("dial tcp 10.1.2.3:443")); st.Message() != "internal error" {
			t.Fatalf("raw error shown: %v", st)
		}
	})
}

func TestPartnerPredicates(t *testing.T) {
	open := fmt.Errorf("publish: %w", &partnerhttp.Error{Kind: partnerhttp.KindCircuitOpen})
	if !partnerhttp.IsCircuitOpen(open) || partnerhttp.IsCircuitOpen(errors.New("x")) || partnerhttp.IsRetryable(open) {
		t.Fatal("IsCircuitOpen / IsRetryable")
	}
	if !partnerhttp.IsRetryable(&partnerhttp.Error{Kind: partnerhttp.KindUnavailable, Retryable: true}) {
		t.Fatal("IsRetryable")
	}
	if partnerhttp.KindOf(&avata.Error{HTTP: &partnerhttp.Error{Kind: avata.KindWalletSessionExpired}}) != avata.KindWalletSessionExpired {
		t.Fatal("KindOf through avata.Error")
	}
	if !partnerhttp.IsRefusedBeforeSending(&partnerhttp.Error{Kind: partnerhttp.KindInputTooLarge}) ||
		partnerhttp.IsRefusedBeforeSending(&partnerhttp.Error{Kind: partnerhttp.KindRejected, HTTPStatus: 400}) {
		t.Fatal("IsRefusedBeforeSending")
	}
}
