package partnerhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// BenchmarkDoJSON measures one successful JSON round trip through the core (breaker,
// authorize, retries bookkeeping) against a loopback server.
func BenchmarkDoJSON(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"contextId":"c","amount":1.123456789012345678}`))
	}))
	defer srv.Close()
	c, err := partnerhttp.New(partnerhttp.Config{
		Partner: "etvas", BaseURL: srv.URL,
		Authorize: func(_ context.Context, r *http.Request, _ []byte) error {
			r.Header.Set("x-api-key", "k")
			return nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	in := map[string]string{"token": "t"}
	b.ReportAllocs()
	for b.Loop() {
		var out map[string]any
		if err := c.DoJSON(ctx, partnerhttp.Request{Operation: "verify_token", Method: "POST", Path: "/verify-token", Idempotent: true}, in, &out); err != nil {
			b.Fatal(err)
		}
	}
}
