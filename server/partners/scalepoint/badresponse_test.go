package scalepoint_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/scalepoint"
	sandbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

// wrapAPI serves the sandbox's token endpoint and answers every API call with api.
func wrapAPI(t *testing.T, api http.HandlerFunc) env {
	t.Helper()
	sb := sandbox.New(sandbox.DefaultConfig())
	real := sb.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api(w, r)
			return
		}
		real.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { sb.Close(); hs.Close() })
	return env{sb: sb, url: hs.URL, clock: &fakeClock{}}
}

// TestPublishAnyTwoHundredIsDelivered: the document shows 201 {"_id": 1} but not the type of
// the id. Whatever a 2xx carries — a number, a string, no _id, no body, not JSON, a body cut
// off or too large — the event is published: Publish succeeds (the id kept as text, or "")
// after exactly one request, so nothing upstream publishes it again.
func TestPublishAnyTwoHundredIsDelivered(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		cutOff bool // the connection closes in the middle of the body
		wantID string
	}{
		{"documented number", 201, `{"_id": 1}`, false, "1"},
		{"large number", 201, `{"_id":123}`, false, "123"},
		{"string", 201, `{"_id":"abc"}`, false, "abc"},
		{"event-id style string", 201, `{"_id":"_122047"}`, false, "_122047"},
		{"fractional number", 201, `{"_id":1.5}`, false, "1.5"},
		{"null", 201, `{"_id":null}`, false, ""},
		{"object", 201, `{"_id":{"$oid":"x"}}`, false, ""},
		{"no _id", 201, `{"id":1}`, false, ""},
		{"empty object", 201, `{}`, false, ""},
		{"empty body", 201, ``, false, ""},
		{"not JSON", 201, `<html>created</html>`, false, ""},
		{"trailing data", 201, `{"_id":1} {"_id":2}`, false, "1"},
		{"200 instead of 201", 200, `{"_id":7}`, false, "7"},
		{"202 without body", 202, ``, false, ""},
		{"body cut off", 201, `{"_id":`, true, ""},
		{"body too large", 201, `{"_id":1,"pad":"` + strings.Repeat("x", 11<<20) + `"}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sends atomic.Int32
			e := wrapAPI(t, func(w http.ResponseWriter, r *http.Request) {
				sends.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.cutOff {
					conn, buf, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = buf.WriteString("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + tc.body)
					_ = buf.Flush()
					_ = conn.Close()
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c := newClient(t, e, nil)
			id, err := c.Publish(context.Background(), "case_created", payload("case_created"))
			if err != nil || id != tc.wantID {
				t.Fatalf("Publish = %q, %v; want %q, nil", id, err, tc.wantID)
			}
			if n := sends.Load(); n != 1 {
				t.Fatalf("%d sends, want 1", n)
			}
		})
	}
}

// TestPublishIDReadingsOfTheSandbox: the adapter against each switchable reading of the
// sandbox's 201 answer.
func TestPublishIDReadingsOfTheSandbox(t *testing.T) {
	for style, want := range map[string]string{
		sandbox.PublishIDNumber: "1", sandbox.PublishIDString: "_1", sandbox.PublishIDMissing: "",
		sandbox.PublishIDEmpty: "", sandbox.PublishIDText: "",
	} {
		t.Run(style, func(t *testing.T) {
			e := startSandbox(t, nil)
			if err := e.sb.SetPublishID(style); err != nil {
				t.Fatal(err)
			}
			id, err := newClient(t, e, nil).Publish(context.Background(), "case_created", payload("case_created"))
			if err != nil || id != want {
				t.Fatalf("Publish = %q, %v; want %q", id, err, want)
			}
			if p := e.sb.Published(); len(p) != 1 || p[0].AnsweredID != want {
				t.Fatalf("published %+v", p)
			}
		})
	}
}

// A Scalepoint whose receive answer cannot be used: the sandbox never does that, so this one
// rewrites the API answers.
func TestBadReceiveResponses(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"not JSON", "ok"},
		{"event without id", `{"links":{},"meta":{},"data":[{"type":"x","attributes":{"eventType":"x"}}]}`},
		{"data not a list", `{"data":{"id":"_1"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := wrapAPI(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := newClient(t, e, nil).Receive(context.Background(), "")
			if apierror.Code(err) != codes.Internal || errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE) {
				t.Fatalf("%v", err)
			}
		})
	}
}

func BenchmarkPublish(b *testing.B) {
	sb := sandbox.New(sandbox.DefaultConfig())
	hs := httptest.NewServer(sb.Handler())
	defer func() { sb.Close(); hs.Close() }()
	c, err := scalepoint.New(scalepoint.Config{
		BaseURL: hs.URL, Country: "dk", Tenant: "covergate",
		OAuth: scalepoint.OAuthConfig{TokenURL: hs.URL + "/connect/token", ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body := payload("case_created")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Publish(ctx, "case_created", body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCachedToken(b *testing.B) {
	sb := sandbox.New(sandbox.DefaultConfig())
	hs := httptest.NewServer(sb.Handler())
	defer func() { sb.Close(); hs.Close() }()
	tokens, err := scalepoint.NewTokens(scalepoint.OAuthConfig{TokenURL: hs.URL + "/connect/token", ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tokens.Token(ctx, "events"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
