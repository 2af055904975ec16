// Package gateway is the HTTP side of Covergate: grpc-gateway muxes for the internal API and the
// partner webhooks (both dialing the gRPC server, so every interceptor runs exactly once per
// call), plus health, readiness and the OpenAPI documents, behind body limits, a content-type
// check and a header allowlist.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/gen/openapi"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/docs"
)

// Config configures the HTTP handler.
type Config struct {
	Conn           grpc.ClientConnInterface // connection to the gRPC server (in process in production)
	Logger         *slog.Logger
	MaxBodyBytes   int64                           // limit for every route but uploads
	MaxUploadBytes int64                           // limit for claim-document uploads
	Ready          func(ctx context.Context) error // nil error = ready to serve
	// WebhookAuth wraps the partner webhook routes: it authenticates the partner over the exact
	// raw body before any decoding. It reads the body itself, after checking the partner's
	// header credentials, bounded by its own limit; the gateway does not buffer those routes.
	// Nil means no wrapping (the gateway then buffers them like any route).
	WebhookAuth func(http.Handler) http.Handler
	// WebhookMetadata adds gRPC metadata to webhook calls from the request's context (the
	// verified delivery), never from client headers. Nil means none.
	WebhookMetadata func(context.Context, *http.Request) metadata.MD
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// ObserveHTTP, when set, records every HTTP answer.
	ObserveHTTP func(method string, code int, d time.Duration)
	// Authorize, when set, checks internal-API calls from their headers before the body is read
	// (the gRPC interceptor checks again). Nil leaves the check to the interceptor alone.
	Authorize Authorize
	// AllowWebhook, when set, takes a token of a partner route's rate-limit bucket before the
	// delivery's body is read; a non-nil status is the refusal.
	AllowWebhook func(route string) *status.Status
	// UploadMemoryBytes bounds what all in-flight uploads may hold in memory together (each
	// charged twice its declared size); an upload that cannot get its share within
	// UploadQueueTimeout is answered 503 with Retry-After. 0 = unbounded.
	UploadMemoryBytes  int64
	UploadQueueTimeout time.Duration
	// Timeouts bound slow clients per request (see Timeouts).
	Timeouts Timeouts
	// OnRefused counts refusals by a protective limit (metrics); may be nil.
	OnRefused func(limit string)
	// SSEHeartbeat is how often an idle Server-Sent Events stream sends a comment line
	// (0 = DefaultSSEHeartbeat).
	SSEHeartbeat time.Duration
	// RPC, when set, serves the Connect and gRPC-Web protocols (see rpc.go).
	RPC http.Handler
}

// webhookPaths are fixed by the partners (or by us, for Avata and Scalepoint).
var webhookPaths = []string{"/etvas-events", "/etvas/events", "/webhooks/avata", "/webhooks/scalepoint"}

// WebhookPaths are the partner webhook routes (each has its own rate-limit bucket).
func WebhookPaths() []string { return append([]string(nil), webhookPaths...) }

// New builds the HTTP handler.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	if cfg.Conn == nil || cfg.Logger == nil {
		return nil, fmt.Errorf("gateway: Conn and Logger are required")
	}
	routes, err := buildRouteTable()
	if err != nil {
		return nil, err
	}
	g := &guard{routes: routes, authorize: cfg.Authorize, uploadLimit: cfg.MaxUploadBytes,
		queueTimeout: cfg.UploadQueueTimeout, onRefused: cfg.OnRefused}
	if cfg.UploadMemoryBytes > 0 {
		g.uploads, g.uploadBudget = semaphore.NewWeighted(cfg.UploadMemoryBytes), cfg.UploadMemoryBytes
	}
	apiJSON := apiJSONPb()
	api, err := newAPIRouter(ctx, cfg.Conn, apiJSON, g.middleware, routes)
	if err != nil {
		return nil, err
	}
	heartbeat := cfg.SSEHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultSSEHeartbeat
	}
	watch := &watchHandler{
		mux: api.all, client: insurancev1.NewEventServiceClient(cfg.Conn), json: apiJSON,
		log: cfg.Logger, heartbeat: heartbeat,
	}
	hooks, err := newWebhookMux(ctx, cfg.Conn, cfg.WebhookMetadata)
	if err != nil {
		return nil, err
	}
	var hookHandler http.Handler = hooks
	if cfg.WebhookAuth != nil {
		hookHandler = cfg.WebhookAuth(hooks)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", readyHandler(cfg.Ready))
	mux.HandleFunc("GET /openapi.json", staticJSON(openapi.V3))
	mux.HandleFunc("GET /openapi/v2.json", staticJSON(openapi.V2))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	docsPage := docs.Handler()
	mux.Handle(docs.Path, docsPage)
	mux.Handle(docs.Path+"/", docsPage)
	for _, p := range webhookPaths {
		mux.Handle(p, hookHandler)
	}
	apiRoutes := checkIdempotencyKey(api)
	mux.Handle("/v1/", apiRoutes)
	mux.Handle("GET "+watchPath, g.check(watchMethod, watch))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeRouteNotFound(w, r)
	})
	limits := bodyLimits{normal: cfg.MaxBodyBytes, upload: cfg.MaxUploadBytes}
	hookPaths := map[string]bool{}
	for _, p := range webhookPaths {
		hookPaths[p] = true
	}
	if cfg.WebhookAuth != nil {
		// The webhook verifier checks the header credentials before it reads (and bounds) the
		// body itself: a stranger costs no body read.
		limits.selfRead = hookPaths
	}
	// Connect and gRPC-Web answer errors in their own protocol, so they bypass statusBodies (which
	// makes every other error body a google.rpc.Status) but keep the body limit.
	var rpc http.Handler
	if cfg.RPC != nil {
		rpc = limitBody(limits, nil, guardRPC(cfg.Authorize, cfg.RPC))
	}
	var h http.Handler = routeRPC(rpc, statusBodies(limitBody(limits, hookPaths, requireJSON(apiFirst(apiRoutes, mux)))))
	h = withWebhookLimit(cfg.AllowWebhook, hookPaths, h)
	h = withDeadlines(cfg.Timeouts, routes.streamPaths(), isUploadPath, h)
	return accessLog(cfg.Logger, cfg.ObserveHTTP, h), nil
}

// apiFirst sends internal-API requests straight to the API's own router (grpc-gateway), and
// everything else through mux. The two routers agree (mux sends "/v1/" there too); skipping
// mux's pattern matching saves its allocations on the busiest routes. Paths that mux would clean
// and redirect ("//", "/./", "/../") and the event stream still go through mux.
func apiFirst(api, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/") && p != watchPath && !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// apiJSONPb is the internal API's JSON: strict (an unknown field is an error, so typos surface)
// and every field present in answers, for stable shapes in typed clients.
func apiJSONPb() *runtime.JSONPb {
	return &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitDefaultValues: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
}

// newWebhookMux serves partner webhooks: unknown fields are ignored (a partner adding a field must
// never make us reject its events) and answers omit empty fields, to reproduce the partners'
// documented bodies exactly.
func newWebhookMux(ctx context.Context, conn grpc.ClientConnInterface, md func(context.Context, *http.Request) metadata.MD) (*runtime.ServeMux, error) {
	m := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
	}
	opts := commonOptions(jsonMarshaler{m})
	if md != nil {
		opts = append(opts, runtime.WithMetadata(md))
	}
	mux := runtime.NewServeMux(opts...)
	for name, register := range map[string]func() error{
		"EtvasWebhookService": func() error {
			return webhooksv1.RegisterEtvasWebhookServiceHandlerClient(ctx, mux, webhooksv1.NewEtvasWebhookServiceClient(conn))
		},
		"AvataWebhookService": func() error {
			return webhooksv1.RegisterAvataWebhookServiceHandlerClient(ctx, mux, webhooksv1.NewAvataWebhookServiceClient(conn))
		},
		"ScalepointWebhookService": func() error {
			return webhooksv1.RegisterScalepointWebhookServiceHandlerClient(ctx, mux, webhooksv1.NewScalepointWebhookServiceClient(conn))
		},
	} {
		if err := register(); err != nil {
			return nil, fmt.Errorf("gateway: register %s: %w", name, err)
		}
	}
	return mux, nil
}

func commonOptions(m runtime.Marshaler) []runtime.ServeMuxOption {
	return []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, m),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithOutgoingTrailerMatcher(outgoingHeader),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		// Method override lets a POST act as DELETE; nobody needs it and it muddles auditing.
		runtime.WithDisableHTTPMethodOverride(),
	}
}

func staticJSON(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		writeJSONBytes(w, http.StatusOK, body)
	}
}

func readyHandler(ready func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				writeStatus(w, r, apierror.Status(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
					"not ready: "+err.Error(), errMeta(r)...))
				return
			}
		}
		writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ready"}`))
	}
}

func writeJSONBytes(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
