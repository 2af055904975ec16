package partnerhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// recorder is the server a redirect points to: it records whatever reaches it.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	apiKey, authorization, body string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, recorded{req.Header.Get("X-Api-Key"), req.Header.Get("Authorization"), string(body)})
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"stolen":true}`)
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// TestRedirectsRefused: a partner URL answering a redirect never makes us send the credentials
// or the body anywhere else, whatever the status and whoever built the *http.Client; the caller
// gets PARTNER_BAD_RESPONSE naming the redirect, at once (no retry: it is not an outage).
func TestRedirectsRefused(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, own := range []bool{false, true} {
			name := http.StatusText(code)
			if own {
				name += "/caller's client"
			}
			t.Run(name, func(t *testing.T) {
				target := &recorder{}
				thief := httptest.NewServer(target)
				t.Cleanup(thief.Close)
				// Same host as the partner (only the port differs): net/http would keep even
				// Authorization on such a redirect.
				s, srv := newServer(t, step{status: code, header: map[string]string{"Location": thief.URL + "/collect?x=1"}})
				c := newClient(t, srv.URL, func(cfg *partnerhttp.Config) {
					if own {
						cfg.HTTPClient = &http.Client{} // follows redirects by default
					}
					cfg.Authorize = func(_ context.Context, r *http.Request, _ []byte) error {
						r.Header.Set("X-Api-Key", "secret-api-key")
						r.Header.Set("Authorization", "Bearer secret-token")
						return nil
					}
				})
				_, err := c.Do(context.Background(), partnerhttp.Request{
					Operation: "verify_token", Method: http.MethodPost, Path: "/verify", Body: []byte(`{"token":"portal-token"}`), Idempotent: true,
				})
				perr := asError(t, err)
				if perr.Kind != partnerhttp.KindBadResponse || perr.HTTPStatus != code {
					t.Fatalf("error %v: kind %v http %d", perr, perr.Kind, perr.HTTPStatus)
				}
				if got := target.got(); len(got) != 0 {
					t.Fatalf("the redirect target received %d request(s): %+v", len(got), got)
				}
				if s.calls() != 1 {
					t.Fatalf("partner called %d times, want 1 (a redirect is not retried)", s.calls())
				}
				u, _ := url.Parse(thief.URL)
				info := errorInfo(t, perr)
				if info.GetMetadata()["refused_redirect_host"] != u.Host || info.GetMetadata()["http_status"] != itoa(code) {
					t.Fatalf("ErrorInfo metadata %v: want the refused redirect named", info.GetMetadata())
				}
				if c.BreakerState() != "closed" {
					t.Fatalf("breaker %s after a redirect", c.BreakerState())
				}
			})
		}
	}
}

func TestRefuseRedirectsKeepsTransport(t *testing.T) {
	tr := &http.Transport{}
	base := &http.Client{Transport: tr}
	c := partnerhttp.RefuseRedirects(base)
	if c == base || c.Transport != tr || c.CheckRedirect == nil || base.CheckRedirect != nil {
		t.Fatalf("RefuseRedirects must copy the client, share its transport and leave the original alone")
	}
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := apierror.FromPartner(err) // what the caller sees, through the API edge
	if !ok {
		t.Fatalf("not a partner error: %v", err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
