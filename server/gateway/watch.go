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
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/requestid"
)

// Media types of the event stream. NDJSON is the default (one `{"result":{...}}` or
// `{"error":{...}}` object per line, as grpc-gateway frames server streams); Server-Sent Events
// are chosen with `Accept: text/event-stream`, so a browser EventSource can follow the log: each
// event is `id: <cursor>` + `data: <Event JSON>`; an error that ends the stream is an event named
// `stream-error` whose data is a google.rpc.Status (not `error`, which would reach an
// EventSource's onerror handler, the one meant for connection failures).
const (
	ndjsonType = "application/x-ndjson"
	sseType    = "text/event-stream"
)

// watchPath is the REST route of EventService.WatchEvents.
const watchPath = "/v1/events:watch"

const watchMethod = "/covergate.insurance.v1.EventService/WatchEvents"

// DefaultSSEHeartbeat is how often an idle SSE stream sends a comment line: well under the idle
// timeouts of common proxies and load balancers (60 s for nginx and AWS ALB by default).
const DefaultSSEHeartbeat = 15 * time.Second

// sseErrorEvent names the SSE event that carries the error ending a stream.
const sseErrorEvent = "stream-error"

// sseRetryMillis is the reconnection delay an EventSource is told to use.
const sseRetryMillis = 2000

// watchHandler serves GET /v1/events:watch in place of grpc-gateway's generated stream handler,
// for three things the generated one cannot do: send the response headers as soon as the stream
// is accepted (a browser fetch otherwise stays pending until the first event), serve Server-Sent
// Events besides NDJSON, and log a client that went away once, through slog, instead of through
// grpclog. The call still goes through the gRPC server (the gateway's connection), so auth,
// validation, logging and metrics run exactly as for every other route, and the request is read
// from the query string by grpc-gateway's own parser, with its header-to-metadata rules.
type watchHandler struct {
	mux       *runtime.ServeMux
	client    insurancev1.EventServiceClient
	json      *runtime.JSONPb
	log       *slog.Logger
	heartbeat time.Duration
}

func (h *watchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sse := acceptsEventStream(r.Header.Values("Accept"))
	req := &insurancev1.WatchEventsRequest{}
	if err := runtime.PopulateQueryParameters(req, r.URL.Query(), utilities.NewDoubleArray(nil)); err != nil {
		writeStatus(w, r, apierror.Normalize(status.Error(codes.InvalidArgument, err.Error()), errMeta(r)...))
		return
	}
	if sse {
		// An EventSource reconnects to the same URL with the last id it saw: resume after it.
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			cursor, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || cursor < 0 {
				writeStatus(w, r, apierror.Normalize(apierror.Invalid("Last-Event-ID must be an event cursor",
					[]apierror.FieldViolation{{Field: "Last-Event-ID", Description: "must be a non-negative integer (an event cursor)", Reason: "header.cursor"}}),
					errMeta(r)...))
				return
			}
			req.AfterCursor = cursor
		}
	}
	ctx, err := runtime.AnnotateContext(r.Context(), h.mux, r, watchMethod, runtime.WithHTTPPathPattern(watchPath))
	if err != nil {
		errorHandler(r.Context(), h.mux, h.json, w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := h.client.WatchEvents(ctx, req)
	if err != nil {
		errorHandler(ctx, h.mux, h.json, w, r, err)
		return
	}
	// The service marks its headers once the call is authorized and valid: until then an error
	// can still be answered with its own HTTP status and a google.rpc.Status body.
	if md, _ := stream.Header(); len(md.Get(api.WatchStartedHeader)) == 0 {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			err = status.Error(codes.Internal, "event stream ended before it started")
		}
		errorHandler(ctx, h.mux, h.json, w, r, err)
		return
	}
	out := &streamWriter{w: w, rc: http.NewResponseController(w), log: h.log, r: r}
	// A server-wide write timeout must not cut a long-lived stream.
	_ = out.rc.SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	hdr.Set("X-Content-Type-Options", "nosniff")
	if sse {
		hdr.Set("Content-Type", sseType)
	} else {
		hdr.Set("Content-Type", ndjsonType)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return // the headers are the whole answer ("GET /path" patterns also match HEAD)
	}
	if sse {
		out.write([]byte("retry: " + strconv.Itoa(sseRetryMillis) + "\n\n"))
	}
	out.flush()

	msgs := make(chan recvResult)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: ends Recv, so the receiver returns
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := stream.Recv()
			select {
			case msgs <- recvResult{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var tick <-chan time.Time
	if sse && h.heartbeat > 0 {
		t := time.NewTicker(h.heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for !out.failed {
		select {
		case <-r.Context().Done():
			out.gone(r.Context().Err())
			return
		case <-tick:
			out.write([]byte(": keep-alive\n\n"))
			out.flush()
		case m := <-msgs:
			if m.err != nil {
				h.writeError(ctx, out, r, m.err, sse)
				return
			}
			h.writeEvent(out, m.msg, sse)
			out.flush()
		}
	}
}

type recvResult struct {
	msg *insurancev1.WatchEventsResponse
	err error
}

func (h *watchHandler) writeEvent(out *streamWriter, m *insurancev1.WatchEventsResponse, sse bool) {
	if !sse {
		h.writeLine(out, map[string]proto.Message{"result": m})
		return
	}
	data, err := h.json.Marshal(m.GetEvent())
	if err != nil {
		h.log.Error("events watch: marshal event", "request_id", requestid.From(out.r.Context()), "error", err)
		out.failed = true
		return
	}
	var b bytes.Buffer
	b.WriteString("id: ")
	b.WriteString(strconv.FormatInt(m.GetEvent().GetCursor(), 10))
	b.WriteByte('\n')
	writeSSEData(&b, data)
	out.write(b.Bytes())
}

// writeError ends the stream with the error that ended the call: a last NDJSON line
// `{"error":{google.rpc.Status}}`, or an SSE `event: stream-error` whose data is the Status. A client
// that went away gets nothing (there is nobody to tell).
func (h *watchHandler) writeError(ctx context.Context, out *streamWriter, r *http.Request, err error, sse bool) {
	if errors.Is(err, io.EOF) {
		return
	}
	if r.Context().Err() != nil {
		out.gone(r.Context().Err())
		return
	}
	st := streamErrorHandler(ctx, err)
	if !sse {
		h.writeLine(out, map[string]proto.Message{"error": st.Proto()})
		out.flush()
		return
	}
	data, mErr := h.json.Marshal(st.Proto())
	if mErr != nil {
		return
	}
	var b bytes.Buffer
	b.WriteString("event: " + sseErrorEvent + "\n")
	writeSSEData(&b, data)
	out.write(b.Bytes())
	out.flush()
}

func (h *watchHandler) writeLine(out *streamWriter, v any) {
	data, err := h.json.Marshal(v)
	if err != nil {
		h.log.Error("events watch: marshal message", "request_id", requestid.From(out.r.Context()), "error", err)
		out.failed = true
		return
	}
	out.write(append(data, '\n'))
}

// writeSSEData writes data as SSE `data:` lines (one per line of data) and ends the event.
func writeSSEData(b *bytes.Buffer, data []byte) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte("\r")))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}

// streamWriter writes a stream and remembers the first failure: a client that went away (broken
// pipe, reset, closed tab) is normal for a stream and is logged once, at debug level.
type streamWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	log    *slog.Logger
	r      *http.Request
	failed bool
}

func (s *streamWriter) write(b []byte) {
	if s.failed {
		return
	}
	if _, err := s.w.Write(b); err != nil {
		s.gone(err)
	}
}

func (s *streamWriter) flush() {
	if s.failed {
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.gone(err)
	}
}

func (s *streamWriter) gone(err error) {
	if s.failed {
		return
	}
	s.failed = true
	s.log.LogAttrs(s.r.Context(), slog.LevelDebug, "events watch: client went away",
		slog.String("request_id", requestid.From(s.r.Context())),
		slog.String("error", err.Error()))
}

// acceptsEventStream reports whether the Accept header asks for text/event-stream (with a
// non-zero quality). Anything else, including no Accept header, gets NDJSON.
func acceptsEventStream(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != sseType {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
