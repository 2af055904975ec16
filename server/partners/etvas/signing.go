package etvas

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Header names of the Etvas protocol.
const (
	HeaderAPIKey           = "x-api-key"
	HeaderContext          = "x-etvas-context"
	HeaderSignature        = "x-signature"
	HeaderTimestamp        = "x-timestamp"
	HeaderWebhookSignature = "x-etvas-signature"
)

// SignedRequest is what request signing covers. Path is the escaped path as sent on the
// wire; RawQuery is the query without '?' ("" when none).
type SignedRequest struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	APIKey      string
	ContextID   string
	Timestamp   int64 // unix seconds
	Body        []byte
}

// Canonical returns the string that is signed (as the etvas-sdk, https://github.com/etvascom/etvas-sdk, signs requests): METHOD, path, [query],
// [content-type:<v>], x-api-key:<key>, [x-etvas-context:<ctx>], x-timestamp:<unix s>, then
// the hex SHA-256 of the body, joined by "\n". An empty POST body is hashed as "{}"
// because that is what is sent.
func (s SignedRequest) Canonical() string {
	lines := []string{strings.ToUpper(s.Method), s.Path}
	if s.RawQuery != "" {
		lines = append(lines, s.RawQuery)
	}
	if s.ContentType != "" {
		lines = append(lines, "content-type:"+s.ContentType)
	}
	lines = append(lines, "x-api-key:"+s.APIKey)
	if s.ContextID != "" {
		lines = append(lines, "x-etvas-context:"+s.ContextID)
	}
	lines = append(lines, "x-timestamp:"+strconv.FormatInt(s.Timestamp, 10))
	body := s.Body
	if len(body) == 0 && strings.EqualFold(s.Method, http.MethodPost) {
		body = []byte("{}")
	}
	sum := sha256.Sum256(body)
	lines = append(lines, hex.EncodeToString(sum[:]))
	return strings.Join(lines, "\n")
}

// RequestSignature returns the hex HMAC-SHA256 of s.Canonical() keyed with secret.
func RequestSignature(secret []byte, s SignedRequest) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(s.Canonical()))
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyRequestSignature reports whether sig (hex) is the signature of s, in constant time.
func VerifyRequestSignature(secret []byte, s SignedRequest, sig string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(s.Canonical()))
	return hmac.Equal(got, mac.Sum(nil))
}

// SignedRequestFrom collects the signed parts of an incoming or outgoing request.
func SignedRequestFrom(r *http.Request, body []byte, timestamp int64) SignedRequest {
	return SignedRequest{
		Method:      r.Method,
		Path:        r.URL.EscapedPath(),
		RawQuery:    r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"),
		APIKey:      r.Header.Get(HeaderAPIKey),
		ContextID:   r.Header.Get(HeaderContext),
		Timestamp:   timestamp,
		Body:        body,
	}
}
