package scalepoint_test

import (
	"strings"
	"testing"

	"github.com/covergate/covergate/server/partners/scalepoint"
)

// FuzzParseEvent: an accepted event always has an id, a type and the envelope's eventType.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"id":"1","type":"case_created","timestamp":"2017-07-25T10:31:28Z","attributes":{"eventType":"case_created","payloadVersion":"1.0.0"}}`))
	f.Add([]byte(`{"id":"","attributes":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := scalepoint.ParseEvent(raw)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Type == "" || ev.Attributes.EventType == "" {
			t.Fatalf("accepted %q as %+v", raw, ev)
		}
	})
}

// FuzzVerifyWebhookAuth: only "Bearer <token>" (case-insensitive scheme) passes.
func FuzzVerifyWebhookAuth(f *testing.F) {
	f.Add("Bearer fuzz-token")
	f.Add("bearer  fuzz-token ")
	f.Add("Basic Zm9v")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		const token = "fuzz-token"
		err := scalepoint.VerifyWebhookAuth(header, token)
		ok := len(header) > 7 && strings.EqualFold(header[:7], "bearer ") && strings.TrimSpace(header[7:]) == token
		if (err == nil) != ok {
			t.Fatalf("VerifyWebhookAuth(%q) = %v, want ok=%v", header, err, ok)
		}
		if scalepoint.VerifyWebhookAuth(header, "") == nil {
			t.Fatal("accepted with no token configured")
		}
	})
}
