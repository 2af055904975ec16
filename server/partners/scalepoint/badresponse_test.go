package scalepoint_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/scalepoint"
	sandbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

// A Scalepoint that answers 2xx with a body we cannot use: the sandbox never does that, so
// this one wraps it and rewrites the API answers.
func TestBadResponses(t *testing.T) {
	tests := []struct {
		name    string
		publish bool
		status  int
		body    string
	}{
		{"publish: not JSON", true, 201, "<html>created</html>"},
		{"publish: no _id", true, 201, `{"id":1}`},
		{"publish: _id not an integer", true, 201, `{"_id":"abc"}`},
		{"publish: _id fractional", true, 201, `{"_id":1.5}`},
		{"publish: trailing data", true, 201, `{"_id":1} {"_id":2}`},
		{"receive: not JSON", false, 200, "ok"},
		{"receive: event without id", false, 200, `{"links":{},"meta":{},"data":[{"type":"x","attributes":{"eventType":"x"}}]}`},
		{"receive: data not a list", false, 200, `{"data":{"id":"_1"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := sandbox.New(sandbox.DefaultConfig())
			real := sb.Handler()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/api/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
					return
				}
				real.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { sb.Close(); hs.Close() })
			c := newClient(t, env{sb: sb, url: hs.URL, clock: &fakeClock{}}, nil)
			var err error
			if tc.publish {
				_, err = c.Publish(context.Background(), "case_created", payload("case_created"))
			} else {
				_, err = c.Receive(context.Background(), "")
			}
			if status.Code(err) != codes.Internal || errorInfo(t, err).Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE) {
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
