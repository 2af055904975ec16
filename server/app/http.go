package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/rs/cors"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/covergate/covergate/server/gateway"
	"github.com/covergate/covergate/server/tracing"
)

func (a *App) buildHTTP(ctx context.Context, tlsConfig *tls.Config) error {
	conn, err := grpc.NewClient("passthrough:///covergate-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return a.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(a.tracing.Provider), otelgrpc.WithPropagators(a.tracing.Propagator))),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(int(a.cfg.MaxUploadBytes)),
			grpc.MaxCallSendMsgSize(int(a.cfg.MaxUploadBytes)),
		),
	)
	if err != nil {
		return fmt.Errorf("app: gateway connection: %w", err)
	}
	a.gwConn = conn
	rpc, err := gateway.NewRPC(a.grpc, gateway.RouteNotFound())
	if err != nil {
		return err
	}
	handler, err := gateway.New(ctx, gateway.Config{
		Conn:               a.inproc(conn),
		Logger:             a.log,
		MaxBodyBytes:       a.cfg.MaxBodyBytes,
		MaxUploadBytes:     a.cfg.MaxUploadBytes,
		Ready:              a.ready,
		WebhookAuth:        a.webhookAuth(),
		WebhookMetadata:    a.webhookMetadata(),
		Metrics:            a.metrics.Handler(),
		ObserveHTTP:        a.metrics.ObserveHTTP,
		Authorize:          a.authn.CheckHeader,
		AllowWebhook:       a.rate.AllowRoute,
		UploadMemoryBytes:  a.cfg.Limits.UploadMemoryBytes,
		UploadQueueTimeout: a.cfg.Limits.UploadQueueTimeout,
		Timeouts: gateway.Timeouts{Read: a.cfg.Limits.HTTPReadTimeout, UploadRead: a.cfg.Limits.HTTPUploadReadTimeout,
			Write: a.cfg.Limits.HTTPWriteTimeout},
		OnRefused:    a.refused.Inc,
		RPC:          rpc,
		SSEHeartbeat: a.cfg.SSEHeartbeat,
	})
	if err != nil {
		return err
	}
	handler = a.tracing.HTTP(handler)
	if origins := splitList(a.cfg.CORSOrigins); len(origins) > 0 {
		handler = cors.New(cors.Options{
			AllowedOrigins: origins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
			AllowedHeaders: corsAllowedHeaders,
			ExposedHeaders: corsExposedHeaders,
			MaxAge:         600,
		}).Handler(handler)
	}
	var httpTLS *tls.Config
	if tlsConfig != nil {
		httpTLS = tlsConfig.Clone()
		httpTLS.NextProtos = []string{"h2", "http/1.1"}
	}
	a.http = &http.Server{
		TLSConfig: httpTLS,
		Handler:   handler,
		// Read and write deadlines are set per request by the gateway (gateway.Timeouts): the
		// server-wide ones would also cut off the event stream.
		ReadHeaderTimeout: a.cfg.Limits.HTTPReadHeaderTimeout,
		IdleTimeout:       a.cfg.Limits.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// corsAllowedHeaders are the request headers browsers may send cross-origin: the REST API's, the
// SSE stream's Last-Event-ID (a fetch-based EventSource resuming), and those of the Connect and
// gRPC-Web protocols (connect-web sends them; see connectrpc.com/cors for the same list).
var corsAllowedHeaders = []string{
	"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", "Traceparent", "Tracestate",
	"Last-Event-ID",
	"Connect-Protocol-Version", "Connect-Timeout-Ms", "Connect-Accept-Encoding", "Connect-Content-Encoding",
	"X-Grpc-Web", "X-User-Agent", "Grpc-Timeout", "Grpc-Accept-Encoding",
}

// corsExposedHeaders are the response headers browser code may read: gRPC-Web carries the
// status of a call without body in these headers, Connect unary its trailers as Trailer-*.
var corsExposedHeaders = []string{
	"X-Request-Id", "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
	"Content-Encoding", "Connect-Content-Encoding", "Grpc-Encoding",
}

// tracedTransport wraps a partner transport in otelhttp and keeps CloseIdleConnections reachable
// through the wrapper: http.Client.CloseIdleConnections only reaches transports that implement it,
// and without it the adapters' Close would leave idle keep-alive connections open (and the
// embedded sandbox's graceful shutdown waiting for them).
func tracedTransport(inner *http.Transport, t *tracing.Tracing) http.RoundTripper {
	return closeIdleTransport{
		RoundTripper: otelhttp.NewTransport(inner, otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator)),
		inner:        inner,
	}
}

type closeIdleTransport struct {
	http.RoundTripper
	inner *http.Transport
}

func (c closeIdleTransport) CloseIdleConnections() { c.inner.CloseIdleConnections() }
