package avata

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifyCallbackSignature(t *testing.T) {
	secret := []byte("sandbox-avata-callback-secret")
	body := []byte(`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`)
	good := SignCallback(secret, body)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"valid", secret, body, good, nil},
		{"valid upper-case hex", secret, body, strings.ToUpper(good), nil},
		{"valid sha256= prefix", secret, body, "sha256=" + good, nil},
		{"missing", secret, body, "", ErrSignatureMissing},
		{"blank", secret, body, "   ", ErrSignatureMissing},
		{"body changed", secret, append([]byte(" "), body...), good, ErrSignatureInvalid},
		{"other secret", []byte("other"), body, good, ErrSignatureInvalid},
		{"not hex", secret, body, "zz" + good[2:], ErrSignatureInvalid},
		{"truncated", secret, body, good[:62], ErrSignatureInvalid},
		{"no secret configured", nil, body, good, ErrSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyCallbackSignature(tc.secret, tc.body, tc.header)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Known HMAC-SHA256 vector (RFC 4231 test case 2), proving the algorithm.
	if got := SignCallback([]byte("Jefe"), []byte("what do ya want for nothing?")); got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("HMAC = %s", got)
	}
}

func TestParseCallback(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr error
		check   func(*testing.T, *Callback)
	}{
		{"policy update from the docs", `{"eventType":"policy-update","body":{"status":"APPROVED","uuid":"d7b9f5b0-4b4b-11eb-ae93-0242ac130002","reference":"1234567890","details":{"policyId":"1234567890","policyType":"DIGITAL_ASSET","startDateTime":"2021-01-01T00:00:00.000Z","endDateTime":"2021-01-02T00:00:00.000Z"}}}`,
			nil, func(t *testing.T, cb *Callback) {
				p := cb.Policy
				if p == nil || p.Status != PolicyApproved || !p.Status.Known() || p.Reference != "1234567890" || p.Details.PolicyType != "DIGITAL_ASSET" || p.Details.EndDateTime != "2021-01-02T00:00:00.000Z" {
					t.Fatalf("policy = %+v", p)
				}
			}},
		{"claim update from the docs", `{"eventType":"claim-update","body":{"status":"APPROVED","uuid":"d7b9f5b0-4b4b-11eb-ae93-0242ac130002","policyUuid":"d7b9f5b0-4b4b-11eb-ae93-0242ac130002","details":{"claimId":"1234567890"}}}`,
			nil, func(t *testing.T, cb *Callback) {
				c := cb.Claim
				if c == nil || c.Status != ClaimApproved || c.Details.ClaimID != "1234567890" || cb.Policy != nil {
					t.Fatalf("claim = %+v", c)
				}
			}},
		{"unknown status kept", `{"eventType":"policy-update","body":{"status":"PAUSED","uuid":"u"}}`, nil,
			func(t *testing.T, cb *Callback) {
				if cb.Policy.Status.Known() {
					t.Fatal("PAUSED reported as known")
				}
			}},
		{"unknown event type", `{"eventType":"wallet-update","body":{}}`, ErrUnknownEventType,
			func(t *testing.T, cb *Callback) {
				if cb == nil || cb.EventType != "wallet-update" {
					t.Fatalf("callback = %+v", cb)
				}
			}},
		{"malformed", `{"eventType":`, ErrInvalidCallback, nil},
		{"no event type", `{"body":{"uuid":"u"}}`, ErrInvalidCallback, nil},
		{"no body", `{"eventType":"policy-update"}`, ErrInvalidCallback, nil},
		{"policy without uuid", `{"eventType":"policy-update","body":{"status":"ACCEPTED"}}`, ErrInvalidCallback, nil},
		{"claim without policy", `{"eventType":"claim-update","body":{"status":"CREATED","uuid":"c"}}`, ErrInvalidCallback, nil},
		{"wrong type", `{"eventType":"claim-update","body":{"status":7,"uuid":"c","policyUuid":"p"}}`, ErrInvalidCallback, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cb, err := ParseCallback([]byte(tc.raw))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, cb)
			}
		})
	}
}

func TestCallbackRoundTrip(t *testing.T) {
	raw, err := NewClaimUpdateCallback(ClaimUpdate{Status: ClaimReviewed, UUID: "c1", PolicyUUID: "p1", Details: ClaimUpdateDetails{ClaimID: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := ParseCallback(raw)
	if err != nil || cb.EventType != EventClaimUpdate || cb.Claim.Status != ClaimReviewed || cb.Claim.PolicyUUID != "p1" {
		t.Fatalf("round trip = %+v, %v", cb, err)
	}
}

func FuzzParseCallback(f *testing.F) {
	f.Add([]byte(`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`))
	f.Add([]byte(`{"eventType":"claim-update","body":{"status":"CREATED","uuid":"c","policyUuid":"p"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cb, err := ParseCallback(raw)
		if err == nil && (cb == nil || (cb.Policy == nil) == (cb.Claim == nil)) {
			t.Fatalf("accepted %q as %+v", raw, cb)
		}
	})
}
