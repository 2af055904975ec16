package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
)

// statusBodies makes every error answer of the HTTP handler a top-level google.rpc.Status with
// an ErrorInfo, whoever wrote it:
//   - an error that ends a stream before its first message (GET /v1/events:watch with an invalid
//     filter or no credentials) is written by grpc-gateway as a stream chunk {"error": Status};
//     it is unwrapped;
//   - a plain-text error of a handler that knows nothing of Status (the docs page's 404/405) is
//     replaced by a Status built from the HTTP status, keeping the text as its message.
//
// Only error answers (status >= 400) are held back and rewritten; everything else, streams
// included, passes through untouched. Once a stream has answered 200, a later failure is an
// {"error": ...} chunk of the newline-delimited body, as documented.
func statusBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		sw.finish(r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int           // the status written (0 = none yet)
	buf    *bytes.Buffer // a held-back error body; nil = passing through
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status != 0 {
		return // as net/http: a second WriteHeader is ignored
	}
	s.status = code
	if code >= 400 {
		s.buf = &bytes.Buffer{}
		return
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.buf != nil {
		return s.buf.Write(b)
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes through while streaming; a held-back error is written whole by finish.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok && s.buf == nil {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer (deadlines, hijacking).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var strictStatus = protojson.UnmarshalOptions{}

func (s *statusWriter) finish(r *http.Request) {
	if s.buf == nil {
		return
	}
	body := bytes.TrimSpace(s.buf.Bytes())
	var chunk map[string]json.RawMessage
	if json.Unmarshal(body, &chunk) == nil && len(chunk) == 1 && len(chunk["error"]) > 0 {
		body = chunk["error"]
	}
	var st spb.Status
	if strictStatus.Unmarshal(body, &st) != nil || st.GetCode() == 0 {
		code, reason := statusFor(s.status)
		msg := http.StatusText(s.status)
		if text := plainText(body); text != "" && !strings.EqualFold(text, msg) {
			msg += ": " + text
		}
		var err error
		if body, err = statusJSON.Marshal(apierror.Status(code, reason, msg, errMeta(r)...).Proto()); err != nil {
			body = []byte(`{"code":13,"message":"internal error"}`)
		}
	}
	h := s.ResponseWriter.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.ResponseWriter.WriteHeader(s.status)
	_, _ = s.ResponseWriter.Write(body)
}

// statusFor maps an HTTP error status to the gRPC code and reason its Status carries.
func statusFor(httpStatus int) (codes.Code, insurancev1.ErrorReason) {
	switch httpStatus {
	case http.StatusUnauthorized:
		return codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED
	case http.StatusForbidden:
		return codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED
	case http.StatusNotFound:
		return codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED
	case http.StatusRequestEntityTooLarge:
		return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_RATE_LIMITED
	case http.StatusServiceUnavailable:
		return codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE
	}
	if httpStatus >= 500 {
		return codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL
	}
	return codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST
}

// plainText is the first line of a short text body, printable characters only, or "".
func plainText(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 200 || strings.HasPrefix(line, "{") || strings.HasPrefix(line, "<") {
		return ""
	}
	for _, r := range line {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return line
}
