package etvas

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignEvent returns the x-etvas-signature of an event body: hex HMAC-SHA256 of the raw
// body keyed with the event secret (the current Etvas SDK's scheme).
func SignEvent(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyEventSignature checks an x-etvas-signature value against the raw body in constant
// time, for fake gateways in tests. It is deliberately strict (lower- or upper-case hex,
// nothing else).
func VerifyEventSignature(secret, body []byte, signature string) error {
	if signature == "" {
		return errors.New("x-etvas-signature missing")
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return errors.New("x-etvas-signature is not hex")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("x-etvas-signature does not match the body")
	}
	return nil
}

// canonicalRequest is the string a signed API call signs (partner notes): these lines
// joined by "\n": METHOD, path, [query], [content-type:<v>], x-api-key:<key>,
// [x-etvas-context:<ctx>], x-timestamp:<unix seconds>, hex SHA-256 of the body, where an
// empty POST body is hashed as "{}" (what the SDK sends).
func canonicalRequest(r *http.Request, body []byte) string {
	lines := []string{r.Method, r.URL.EscapedPath()}
	if r.URL.RawQuery != "" {
		lines = append(lines, r.URL.RawQuery)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		lines = append(lines, "content-type:"+ct)
	}
	lines = append(lines, "x-api-key:"+r.Header.Get(headerAPIKey))
	if ctx := r.Header.Get(headerContext); ctx != "" {
		lines = append(lines, "x-etvas-context:"+ctx)
	}
	lines = append(lines, "x-timestamp:"+r.Header.Get(headerTimestamp))
	if len(body) == 0 && r.Method == http.MethodPost {
		body = []byte("{}")
	}
	sum := sha256.Sum256(body)
	lines = append(lines, hex.EncodeToString(sum[:]))
	return strings.Join(lines, "\n")
}

// SignRequest sets x-timestamp and x-signature on r for body, as a signing client must
// (tests use it to call the sandbox by hand).
func SignRequest(r *http.Request, body []byte, secret []byte, now time.Time) {
	r.Header.Set(headerTimestamp, strconv.FormatInt(now.Unix(), 10))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(canonicalRequest(r, body)))
	r.Header.Set(headerSignature, hex.EncodeToString(mac.Sum(nil)))
}

// validRequestSignature checks x-timestamp (within window of now) and x-signature.
func validRequestSignature(r *http.Request, body, secret []byte, now time.Time, window time.Duration) bool {
	ts, err := strconv.ParseInt(r.Header.Get(headerTimestamp), 10, 64)
	if err != nil {
		return false
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew < -window || skew > window {
		return false
	}
	got, err := hex.DecodeString(r.Header.Get(headerSignature))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(canonicalRequest(r, body)))
	return hmac.Equal(got, mac.Sum(nil))
}
