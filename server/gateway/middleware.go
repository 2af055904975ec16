package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/requestid"
	"github.com/covergate/covergate/server/rpclog"
)

// uploadRPCPath is the claim-document upload over Connect and gRPC-Web.
const uploadRPCPath = "/covergate.insurance.v1.ClaimService/UploadClaimDocuments"

type bodyLimits struct {
	normal, upload int64
	// selfRead are the routes whose handler reads (and bounds) the body itself: the partner
	// webhooks check their header credentials first, so a stranger costs no body read.
	selfRead map[string]bool
}

func (l bodyLimits) of(r *http.Request) int64 {
	if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/claim-documents") || r.URL.Path == uploadRPCPath) {
		return l.upload
	}
	return l.normal
}

// limitBody bounds every body by its route's limit and answers 413 when it is larger. Partner
// webhook bodies are read whole up front (verification needs the exact raw bytes, and a body
// rejected here never reaches a decoder). Internal-API bodies are not: they are read by the
// decoder, after the API guard has checked the caller from the headers, so a stranger's body is
// never read at all; reading past the limit fails, and the error handler answers 413.
func limitBody(limits bodyLimits, buffered map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || limits.selfRead[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		limit := limits.of(r)
		if r.ContentLength > limit {
			writeTooLarge(w, r, limit)
			return
		}
		if !buffered[r.URL.Path] {
			lb := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), limit: limit}
			r.Body = lb
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), limitedBodyKey{}, lb)))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeTooLarge(w, r, limit)
				return
			}
			writeStatus(w, r, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST,
				"could not read the request body", errMeta(r)...))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

type limitedBodyKey struct{}

// limitedBody remembers that the body went past its limit, so the error handler can answer 413
// (PAYLOAD_TOO_LARGE) instead of the decoder's generic "malformed" error.
type limitedBody struct {
	io.ReadCloser
	limit    int64
	exceeded atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if err != nil && errors.As(err, &tooBig) {
		b.exceeded.Store(true)
	}
	return n, err
}

// bodyTooLarge reports the limit a request's body went past, if it did.
func bodyTooLarge(r *http.Request) (int64, bool) {
	lb, ok := r.Context().Value(limitedBodyKey{}).(*limitedBody)
	if !ok || !lb.exceeded.Load() {
		return 0, false
	}
	return lb.limit, true
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	// The rest of an oversize body is not read: close the connection instead of draining it.
	w.Header().Set("Connection", "close")
	writeStatus(w, r, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE,
		"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes",
		append([]string{"limit_bytes", strconv.FormatInt(limit, 10)}, errMeta(r)...)...))
}

// requireJSON refuses bodies that are declared as something other than JSON (415), instead of
// letting the JSON decoder guess. A missing Content-Type is accepted as JSON.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			if ct := r.Header.Get("Content-Type"); ct != "" {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
					writeStatusCode(w, r, http.StatusUnsupportedMediaType, apierror.Status(codes.InvalidArgument,
						insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST,
						"unsupported Content-Type "+strconv.Quote(ct)+": send application/json",
						errMeta(r)...))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one line per HTTP request. When the request ran an RPC in process, the line
// also carries the RPC's fields (rpc, code, reason, principal, rpc_duration_ms; server/rpclog)
// and its level, and the RPC writes no line of its own. The query string is left out: it can
// carry identifiers that count as personal data.
func accessLog(log *slog.Logger, observe func(string, int, time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The request id is assigned before anything else runs, so that errors written by the
		// HTTP layer itself carry it too; the header is then forwarded to the gRPC side, which
		// keeps it.
		id := r.Header.Get("X-Request-Id")
		if newID := requestid.OrNew(id); newID != id || len(r.Header["X-Request-Id"]) != 1 {
			id = newID
			r.Header["X-Request-Id"] = []string{id}
		}
		w.Header()["X-Request-Id"] = []string{id}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ctx, call := rpclog.With(requestid.With(r.Context(), id))
		next.ServeHTTP(rec, r.WithContext(ctx))
		elapsed := time.Since(start)
		if observe != nil {
			observe(r.Method, rec.status, elapsed)
		}
		level := slog.LevelInfo
		// One slice, sized for every field: slog copies attributes past its first five into a
		// slice of its own, and a second append here would allocate again.
		attrs := make([]slog.Attr, 0, 6+rpclog.MaxAttrs)
		attrs = append(attrs,
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		)
		if call.Filled() {
			attrs = call.AppendAttrs(attrs)
			level = call.Level
		}
		rpclog.Write(ctx, log, level, "http", attrs)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Flush keeps server streaming (WatchEvents as newline-delimited JSON) working through the
// recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
