package avata_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
)

// A broken partner (not the sandbox, which is correct by construction):
// 2xx answers we cannot use must be INTERNAL / PARTNER_BAD_RESPONSE, never
// a half-filled success.
func TestUnusableSuccessAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case avata.PathPolicyDetails:
			w.Write([]byte(`<html>maintenance</html>`))
		case avata.PathAuthNonce:
			w.Write([]byte(`{"nonce":""}`))
		case avata.PathPolicyRequestStatus:
			w.Write([]byte(`{"eventType":"policy-update","body":{"uuid":"u","status":"ACCEPTED"}} trailing`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := avata.New(avata.Config{BaseURL: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, _ := ethsign.NewWallet(userKey)
	calls := map[string]func() error{
		"html body":     func() error { _, err := c.PolicyDetails(ctx(t), "u"); return err },
		"empty nonce":   func() error { _, err := c.Nonce(ctx(t), w.Address()); return err },
		"trailing data": func() error { _, err := c.PolicyRequestStatus(ctx(t), "u"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			code, info := errorInfo(t, call())
			if code != codes.Internal || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE) {
				t.Fatalf("code %v info %+v", code, info)
			}
		})
	}
}
