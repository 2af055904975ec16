package domain

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestScalepointEnvelope(t *testing.T) {
	at := time.Date(2026, 11, 23, 1, 2, 3, 4000, time.FixedZone("CET", 3600))
	b, err := ScalepointEnvelope("payment_status_updated", "1.0.0", "c0ffee", at, map[string]json.RawMessage{
		"payment": json.RawMessage(`{"amount":12.5}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"correlationId":"c0ffee","eventType":"payment_status_updated","payload` +
		`Version":"1.0.0","payment":{"amount":12.5},"timestamp":"2026-11-23T00:02:03.000004Z"}`
	if string(b) != want {
		t.Fatalf("envelope =\n%s\nwant\n%s", b, want)
	}
	for _, field := range []string{"eventType", "payloadVersion", "correlationId", "timestamp"} {
		_, err := ScalepointEnvelope("x", "1.0.0", "c", at, map[string]json.RawMessage{field: json.RawMessage(`"spoof"`)})
		var conflict *EnvelopeConflictError
		if !errors.As(err, &conflict) || conflict.Field != field {
			t.Errorf("payload setting %s = %v, want an EnvelopeConflictError", field, err)
		}
	}
}

func TestKYCStatus(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := EncodeKYCStatus(KYCSubmission{PolicyID: "p1", SubmitTime: at})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := DecodeKYCStatus(s)
	if !ok || got.PolicyID != "p1" || !got.SubmitTime.Equal(at) {
		t.Fatalf("DecodeKYCStatus(%q) = %+v, %v", s, got, ok)
	}
	for _, none := range []string{"", "SUBMITTED", "SUBMITTED {", "PENDING {}", "verified"} {
		if _, ok := DecodeKYCStatus(none); ok {
			t.Errorf("DecodeKYCStatus(%q) reported a submission", none)
		}
	}
}

func TestScalepointPublication(t *testing.T) {
	at := time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)
	dest := Destination{Partner: PartnerScalepoint, Country: "dk", Tenant: "t1"}
	tests := []struct {
		name            string
		ev              ScalepointEvent
		wantVersion     string
		wantCorrelation string // "" = any valid generated id
	}{
		{"defaults", ScalepointEvent{Destination: dest, EventType: "case_created", Time: at}, DefaultPayloadVersion, ""},
		{"given", ScalepointEvent{Destination: dest, EventType: "claim_updated", PayloadVersion: "2.0.0", CorrelationID: "c-1", Time: at,
			Fields: map[string]json.RawMessage{"claim": json.RawMessage(`{"claimId":"x"}`)}, CustomerID: "cust"}, "2.0.0", "c-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ScalepointPublication(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != PublicationPending || p.Destination != dest || p.EventType != tt.ev.EventType || p.CustomerID != tt.ev.CustomerID {
				t.Errorf("publication = %+v", p)
			}
			if tt.wantCorrelation != "" && p.CorrelationID != tt.wantCorrelation || tt.wantCorrelation == "" && !ValidID(p.CorrelationID) {
				t.Errorf("correlation id = %q, want %q (or a generated id)", p.CorrelationID, tt.wantCorrelation)
			}
			want, err := ScalepointEnvelope(tt.ev.EventType, tt.wantVersion, p.CorrelationID, at, tt.ev.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.Payload) != string(want) {
				t.Errorf("payload =\n%s\nwant\n%s", p.Payload, want)
			}
		})
	}
	_, err := ScalepointPublication(ScalepointEvent{EventType: "x", Fields: map[string]json.RawMessage{"timestamp": json.RawMessage(`"1"`)}})
	var conflict *EnvelopeConflictError
	if !errors.As(err, &conflict) || conflict.Field != EnvelopeTimestamp {
		t.Errorf("conflicting field: err = %v, want an EnvelopeConflictError on timestamp", err)
	}
}
