package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/covergate/covergate/server/domain"
)

func TestStatusConversionsRoundTrip(t *testing.T) {
	for _, s := range []domain.PolicyStatus{domain.PolicyPending, domain.PolicyActive, domain.PolicySuspended,
		domain.PolicyCanceled, domain.PolicyExpired, domain.PolicyRejected, domain.PolicyFailed} {
		if got := PolicyStatusFromProto(PolicyStatusToProto(s)); got != s {
			t.Errorf("policy status %s round-trips to %s", s, got)
		}
	}
	for _, s := range []domain.ClaimStatus{domain.ClaimCreated, domain.ClaimPending, domain.ClaimReported,
		domain.ClaimReviewed, domain.ClaimApproved, domain.ClaimRejected} {
		if got := ClaimStatusFromProto(ClaimStatusToProto(s)); got != s {
			t.Errorf("claim status %s round-trips to %s", s, got)
		}
	}
	for _, s := range []domain.PublicationStatus{domain.PublicationPending, domain.PublicationDelivered, domain.PublicationFailed} {
		if got := PublicationStatusFromProto(PublicationStatusToProto(s)); got != s {
			t.Errorf("publication status %s round-trips to %s", s, got)
		}
	}
	for _, p := range []domain.Partner{domain.PartnerEtvas, domain.PartnerAvata, domain.PartnerScalepoint} {
		if got := PartnerFromProto(PartnerToProto(p)); got != p {
			t.Errorf("partner %s round-trips to %s", p, got)
		}
	}
	if PolicyStatusFromProto(0) != "" || ClaimStatusFromProto(0) != "" || PartnerFromProto(0) != "" {
		t.Error("UNSPECIFIED filters must mean any")
	}
}

func TestPageTokens(t *testing.T) {
	fh := filterHash("policies", "c1", "", "ACTIVE")
	tok := encodePageToken("01900000-0000-7000-8000-000000000001", fh)
	if after, err := decodePageToken(tok, fh); err != nil || after != "01900000-0000-7000-8000-000000000001" {
		t.Fatalf("decode = %q, %v", after, err)
	}
	if encodePageToken("", fh) != "" {
		t.Fatal("the last page must have no token")
	}
	for name, tc := range map[string]struct{ token, filter string }{
		"other filters": {tok, filterHash("policies", "c2", "", "ACTIVE")},
		"not base64":    {"%%%", fh},
		"not a token":   {"bm9wZQ", fh},
		"empty cursor":  {encodePageToken("x", fh)[:4], fh},
	} {
		if _, err := decodePageToken(tc.token, tc.filter); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
	// Filters are separated, so moving a value between fields changes the hash.
	if filterHash("a", "bc") == filterHash("ab", "c") {
		t.Fatal("filter hash is ambiguous")
	}
}

func TestContentMatches(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		body string
		want bool
	}{
		{"application/pdf", "%PDF-1.7\n", true},
		{"application/pdf", "MZ\x90\x00", false},
		{"image/jpeg", "\xFF\xD8\xFF\xDB", true},
		{"image/jpeg", "\x89PNG\r\n\x1a\n", false},
		{"image/png", "\x89PNG\r\n\x1a\n....", true},
		{"image/heic", "\x00\x00\x00\x18ftypheic\x00\x00", true},
		{"image/heic", "\x00\x00\x00\x18ftypmp42\x00\x00", false},
		{"image/heic", "short", false},
		{"text/html", "<html>", false},
	} {
		if got := contentMatches(tc.typ, []byte(tc.body)); got != tc.want {
			t.Errorf("contentMatches(%s, %q) = %v", tc.typ, tc.body, got)
		}
	}
}

func TestValidReason(t *testing.T) {
	for reason, ok := range map[string]bool{
		"The parcel never arrived.":        true,
		"Line one\nline two\ttabbed":       true,
		"          a":                      false,
		"\n\n\n\n\n\n\n\n\n\n\n":           false,
		"Broken screen\x00 on arrival":     false,
		"Broken screen\x1b[31m on arrival": false,
	} {
		if err := validReason(reason); (err == nil) != ok {
			t.Errorf("validReason(%q) = %v", reason, err)
		}
	}
}

func TestExternalKey(t *testing.T) {
	ctx := "3f1c2a9e-0000-4000-8000-00000000000a"
	if k, err := externalKey(ctx, "settings"); err != nil || k != ctx+":settings" {
		t.Fatalf("externalKey = %q, %v", k, err)
	}
	if _, err := externalKey(ctx, strings.Repeat("k", 27)); err != nil {
		t.Fatalf("27-character key with a UUID context: %v", err)
	}
	for name, tc := range map[string][2]string{
		"too long together": {ctx, strings.Repeat("k", 28)},
		"separator in ctx":  {"a:b", "k"},
		"slash in ctx":      {"a/b", "k"},
		"empty ctx":         {"", "k"},
	} {
		if _, err := externalKey(tc[0], tc[1]); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
}

func TestPayloadFieldsKeepsJSON(t *testing.T) {
	p, _ := structpb.NewStruct(map[string]any{"case": map[string]any{"id": 1.5, "tags": []any{"a"}}, "timestamp": "kept for lifecycle to refuse"})
	fields, err := payloadFields(p)
	if err != nil {
		t.Fatal(err)
	}
	compact := func(raw json.RawMessage) string { // protojson's spacing is deliberately unstable
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if compact(fields["case"]) != `{"id":1.5,"tags":["a"]}` || compact(fields["timestamp"]) != `"kept for lifecycle to refuse"` || len(fields) != 2 {
		t.Fatalf("payloadFields = %s", fields)
	}
}
