package partnerhttp

import (
	"errors"
	"fmt"
	"net/http"
)

// RedirectError is a partner answer that tried to send us elsewhere (3xx with Location). Partner
// calls never follow redirects: net/http would resend the body (a portal token, a claim) and,
// to the same host, our credentials (X-Api-Key, bearer tokens) to wherever the partner's server
// — or someone who took over its DNS or a misconfigured proxy — points. A partner endpoint that
// moved is a configuration change, not something to follow at run time.
type RedirectError struct {
	Status int    // the partner's 3xx status
	Host   string // host the redirect pointed to (no path or query: they may carry data)
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("partner answered HTTP %d redirecting to %s; redirects are refused (credentials and body are never resent)", e.Status, e.Host)
}

// RefuseRedirects returns a copy of c (nil = a new client with NewTransport) that never follows
// a redirect: Do returns a *url.Error wrapping *RedirectError, and the redirect target receives
// nothing. The transport (and so its connection pool) is shared with c.
func RefuseRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out.Transport = NewTransport()
	}
	out.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &RedirectError{Status: status, Host: req.URL.Host}
	}
	return &out
}

// asRedirect reports whether err is a refused redirect.
func asRedirect(err error) (*RedirectError, bool) {
	var re *RedirectError
	ok := errors.As(err, &re)
	return re, ok
}
