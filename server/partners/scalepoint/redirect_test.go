package scalepoint_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/partners/scalepoint"
)

// TestTokens_RedirectRefused: a token endpoint answering 307 would make net/http resend the
// client secret (Basic auth to the same host, form body anywhere) to the redirect target. The
// token client refuses: nothing reaches the target and the error is PARTNER_BAD_RESPONSE, not
// retried.
func TestTokens_RedirectRefused(t *testing.T) {
	for _, inBody := range []bool{false, true} {
		t.Run(map[bool]string{false: "basic auth", true: "secret in body"}[inBody], func(t *testing.T) {
			var stolen atomic.Int32
			thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				stolen.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access_token":"x","token_type":"Bearer","expires_in":3600}`)
			}))
			t.Cleanup(thief.Close)
			var asked atomic.Int32
			token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				http.Redirect(w, r, thief.URL+"/connect/token", http.StatusTemporaryRedirect)
			}))
			t.Cleanup(token.Close)
			for _, client := range []*http.Client{nil, {}} {
				tokens, err := scalepoint.NewTokens(scalepoint.OAuthConfig{
					TokenURL: token.URL + "/connect/token", ClientID: "covergate", ClientSecret: "very-secret",
					SecretInBody: inBody, HTTPClient: client,
				})
				if err != nil {
					t.Fatal(err)
				}
				_, err = tokens.Token(context.Background(), "events")
				tokens.Close()
				var pe *partnerhttp.Error
				if !errors.As(err, &pe) || pe.Kind != partnerhttp.KindBadResponse || pe.HTTPStatus != http.StatusTemporaryRedirect {
					t.Fatalf("err %v (%#v)", err, pe)
				}
				if errorInfo(t, err).GetMetadata()["refused_redirect_host"] == "" {
					t.Fatalf("ErrorInfo does not name the refused redirect: %v", errorInfo(t, err))
				}
			}
			if stolen.Load() != 0 {
				t.Fatalf("the redirect target received %d token request(s)", stolen.Load())
			}
			if asked.Load() != 2 {
				t.Fatalf("token endpoint asked %d times, want 2 (once per client, no retry)", asked.Load())
			}
		})
	}
}
