package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"golang.org/x/sync/semaphore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/rpclog"
	"github.com/covergate/covergate/server/tracing"
)

// Timeouts bound how long one request may hold a connection. Zero disables a bound.
type Timeouts struct {
	// Read bounds reading a request body (from the end of the headers), UploadRead the body of a
	// claim-document upload. A client that sends slower is cut off: a slow body no longer holds a
	// goroutine and a file descriptor for as long as it likes.
	Read, UploadRead time.Duration
	// Write bounds the time from the end of the body to the last byte of the answer. Streams
	// (GET /v1/events:watch) get it per message instead.
	Write time.Duration
}

// Authorize checks an internal-API call from its Authorization header values alone and, when
// charge is set, takes its rate-limit token (auth.Authenticator.CheckHeader).
type Authorize func(ctx context.Context, authorization []string, fullMethod string, charge bool) (context.Context, error)

// guard is the internal API's pre-body middleware: it runs after grpc-gateway matched the route
// (so it knows the RPC and therefore the scope) and before the generated handler decodes the body.
type guard struct {
	routes       routeTable
	authorize    Authorize
	uploads      *semaphore.Weighted
	uploadBudget int64
	uploadLimit  int64
	queueTimeout time.Duration
	onRefused    func(limit string)
}

// middleware is a runtime.Middleware. A route missing from the table (impossible while the
// table is built from the same contract) is passed on: the gRPC interceptor still checks it.
//
// grpc-gateway applies it once per registered handler, i.e. per method and pattern, so the
// route is looked up on the first request and kept (Pattern.String formats the pattern anew on
// every call, eight allocations per request).
func (g *guard) middleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	var known atomic.Pointer[resolvedRoute]
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		res := known.Load()
		if res == nil || res.method != r.Method {
			pat, ok := runtime.HTTPPattern(r.Context())
			if !ok {
				next(w, r, params)
				return
			}
			template := pat.String()
			rt, found := g.routes[r.Method+" "+template]
			res = &resolvedRoute{method: r.Method, template: template, route: rt, found: found}
			known.Store(res)
		}
		tracing.SetRoute(r.Context(), r.Method, res.template)
		if !res.found {
			next(w, r, params)
			return
		}
		rt := res.route
		if g.authorize != nil {
			// Streams reach the gRPC server over the in-memory connection, where context values
			// do not travel: their token is taken there, not here.
			ctx, err := g.authorize(r.Context(), r.Header.Values("Authorization"), rt.fullMethod, !rt.stream)
			if err != nil {
				// The rest of the body is never read: this caller has not earned it.
				refuse(w, r, rt.fullMethod, err)
				return
			}
			r = r.WithContext(ctx)
		}
		if rt.upload && g.uploads != nil {
			weight := g.uploadWeight(r)
			ctx, cancel := context.WithTimeout(r.Context(), g.queueTimeout)
			err := g.uploads.Acquire(ctx, weight)
			cancel()
			if err != nil {
				if g.onRefused != nil {
					g.onRefused("upload_memory")
				}
				closeAfter(w, r)
				writeStatus(w, r, busy(r, g.queueTimeout))
				return
			}
			defer g.uploads.Release(weight)
			r.Body = &sizedBody{ReadCloser: r.Body, size: r.ContentLength}
		}
		next(w, r, params)
	}
}

// resolvedRoute is a handler's route, once looked up.
type resolvedRoute struct {
	method   string
	template string // the pattern, e.g. /v1/policies/{policy_id=*}
	route    route
	found    bool
}

// uploadWeight is what one upload may hold in memory while it is decoded and forwarded: the
// raw JSON body plus the decoded files (3/4 of their base64) plus the partner request built
// from them — charged as twice the declared size, or twice the limit when the size is unknown.
func (g *guard) uploadWeight(r *http.Request) int64 {
	size := r.ContentLength
	if size <= 0 || size > g.uploadLimit {
		size = g.uploadLimit
	}
	w := 2 * size
	if w > g.uploadBudget {
		w = g.uploadBudget
	}
	return w
}

// busy is the answer when the upload memory bound is reached: UNAVAILABLE (503) with
// RetryInfo, so the client retries after the in-flight uploads have drained.
func busy(r *http.Request, wait time.Duration) *status.Status {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	st := apierror.Status(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
		"too many uploads in progress; retry after "+strconv.Itoa(secs)+" s",
		append([]string{"limit", "upload_memory", "retry_after_seconds", strconv.Itoa(secs)}, errMeta(r)...)...)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
		return d
	}
	return st
}

// retryAfter is the RetryInfo delay of st in whole seconds (0 when it has none).
func retryAfter(st *status.Status) int {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := int((ri.GetRetryDelay().AsDuration() + time.Second - 1) / time.Second)
			if secs < 1 {
				secs = 1
			}
			return secs
		}
	}
	return 0
}

// sizedBody tells the upload decoder how large the body says it is, so it can read it into one
// buffer of exactly that size instead of a growing one.
type sizedBody struct {
	io.ReadCloser
	size int64
}

func (b *sizedBody) Size() int64 { return b.size }

// withWebhookLimit takes a token of the partner route's bucket before anything else is done
// with a webhook delivery (the body is not read yet).
func withWebhookLimit(allow func(route string) *status.Status, paths map[string]bool, next http.Handler) http.Handler {
	if allow == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if paths[r.URL.Path] {
			if st := allow(r.URL.Path); st != nil {
				closeAfter(w, r)
				writeStatus(w, r, apierror.Normalize(st.Err(), errMeta(r)...))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withDeadlines sets per-request connection deadlines through http.ResponseController (the
// server-wide ReadTimeout/WriteTimeout would also cut off the event stream, and a read deadline
// left running after the body was read cancels a handler that is still working): the body must
// arrive within the route's read timeout, then the deadline is lifted; the answer must be written
// within the write timeout. Streams get no read deadline and a write deadline per message.
func withDeadlines(t Timeouts, streams map[string]bool, isUpload func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		if r.Method == http.MethodGet && streams[r.URL.Path] {
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, timeout: t.Write}, r)
			return
		}
		read := t.Read
		if isUpload(r) {
			read = t.UploadRead
		}
		hasBody := r.Body != nil && r.Body != http.NoBody
		if hasBody && read > 0 {
			_ = rc.SetReadDeadline(now.Add(read))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		if t.Write > 0 {
			budget := t.Write
			if hasBody {
				budget += read
			}
			_ = rc.SetWriteDeadline(now.Add(budget))
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the whole body has been read, so that the server's
// background read (which notices a client going away) does not time out while the handler works.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.lifted.CompareAndSwap(false, true) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadlineWriter gives every write of a stream its own write deadline, cleared afterwards, so a
// stuck reader is cut off while an idle stream (no events) is not.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *deadlineWriter) Write(b []byte) (int, error) {
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
		defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	}
	return s.ResponseWriter.Write(b)
}

func (s *deadlineWriter) Flush() {
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
		defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	}
	_ = s.rc.Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *deadlineWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func isUploadPath(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/claim-documents")
}

// closeAfter ends an HTTP/1 connection after this answer rather than draining a body nobody
// will read. HTTP/2 resets just the stream (and would read "Connection: close" as a request to
// shut the whole connection down, cutting the client's other calls).
func closeAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

// check guards a route served outside grpc-gateway's mux: the key and scope of fullMethod are
// checked from the headers first, as the middleware does. Streams are charged their rate-limit
// token by the interceptor (charge false).
func (g *guard) check(fullMethod string, next http.Handler) http.Handler {
	if g.authorize == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := g.authorize(r.Context(), r.Header.Values("Authorization"), fullMethod, false)
		if err != nil {
			refuse(w, r, fullMethod, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refuse answers a call refused before its body was read, closes the connection instead of
// draining the body, and gives the request's access-log line the RPC's view of the refusal (the
// RPC never ran, so its own line is not written).
func refuse(w http.ResponseWriter, r *http.Request, fullMethod string, err error) {
	st := apierror.Normalize(err, errMeta(r)...)
	if rec := rpclog.Claim(r.Context()); rec != nil {
		rec.Method, rec.Code, rec.Level = fullMethod, st.Code().String(), slog.LevelInfo
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				rec.Reason = info.GetReason()
			}
		}
	}
	closeAfter(w, r)
	writeStatus(w, r, st)
}
