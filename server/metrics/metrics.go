// Package metrics owns Covergate's Prometheus registry and the collectors that feed it: gRPC
// server metrics (both transports: REST reaches the gRPC server through the gateway), HTTP
// answers, partner calls and circuit breakers, webhook deliveries, the outbox and the store.
//
// The registry is created per server, not the process-global default, so tests and several
// in-process servers never share counters.
package metrics

import (
	"context"
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
)

// Metrics is the registry and the instruments Covergate records into.
type Metrics struct {
	registry *prometheus.Registry
	// grpc holds one set of gRPC server metrics per transport ("grpc", "http"), told apart by a
	// constant transport label, so that pre-created series carry a real transport instead of an
	// empty label.
	grpc map[string]*grpcprom.ServerMetrics

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	partnerCalls   *prometheus.CounterVec
	partnerLatency *prometheus.HistogramVec
	breakerState   *prometheus.GaugeVec
	webhooks       *prometheus.CounterVec
	outboxAttempts *prometheus.CounterVec
	storeTx        *prometheus.HistogramVec
}

// New creates the registry with Go runtime and process collectors and every Covergate family.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		grpc: map[string]*grpcprom.ServerMetrics{
			TransportGRPC: transportMetrics(TransportGRPC),
			TransportHTTP: transportMetrics(TransportHTTP),
		},
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covergate_http_requests_total",
			Help: "HTTP requests answered, by method and status code (includes answers the HTTP layer gives itself: 404, 413, 415).",
		}, []string{"method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "covergate_http_request_duration_seconds", Help: "HTTP request latency.", Buckets: latencyBuckets,
		}, []string{"method"}),
		partnerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covergate_partner_requests_total",
			Help: "Calls to partner APIs, by partner, operation, outcome and HTTP status (0 = no answer).",
		}, []string{"partner", "operation", "outcome", "http_status"}),
		partnerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "covergate_partner_request_duration_seconds", Help: "Latency of partner calls, retries included.", Buckets: latencyBuckets,
		}, []string{"partner", "operation"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covergate_partner_circuit_breaker_state",
			Help: "Circuit breaker per partner: 0 closed, 1 half-open, 2 open.",
		}, []string{"partner"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covergate_webhook_deliveries_total",
			Help: "Partner webhook deliveries by partner, event type and outcome (accepted, duplicate, rejected, unrecognized, failed).",
		}, []string{"partner", "type", "outcome"}),
		outboxAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covergate_outbox_delivery_attempts_total",
			Help: "Publication delivery attempts by outcome (delivered, retry, failed).",
		}, []string{"outcome"}),
		storeTx: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "covergate_store_transaction_duration_seconds", Help: "Store transaction latency, retries included.", Buckets: latencyBuckets,
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc[TransportGRPC], m.grpc[TransportHTTP], m.httpRequests, m.httpDuration, m.partnerCalls, m.partnerLatency, m.breakerState,
		m.webhooks, m.outboxAttempts, m.storeTx,
	)
	for _, p := range []string{"etvas", "avata", "scalepoint"} {
		m.breakerState.WithLabelValues(p).Set(0)
	}
	return m
}

// latencyBuckets span a cached read (sub-millisecond) to a slow partner (tens of seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Registry is where extra collectors (the outbox gauges) register.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Transports a gRPC call can arrive through: natively, or from the REST gateway in process.
const (
	TransportGRPC = "grpc"
	TransportHTTP = "http"
)

func transportMetrics(transport string) *grpcprom.ServerMetrics {
	label := prometheus.Labels{"transport": transport}
	return grpcprom.NewServerMetrics(
		grpcprom.WithServerCounterOptions(grpcprom.WithConstLabels(label)),
		grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(latencyBuckets), grpcprom.WithHistogramConstLabels(label)),
	)
}

// GRPCInterceptors returns the gRPC server metric interceptors; transport names the way each
// call arrived (TransportGRPC or TransportHTTP).
func (m *Metrics) GRPCInterceptors(transport func(context.Context) string) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := map[string]grpc.UnaryServerInterceptor{}
	stream := map[string]grpc.StreamServerInterceptor{}
	for t, sm := range m.grpc {
		unary[t], stream[t] = sm.UnaryServerInterceptor(), sm.StreamServerInterceptor()
	}
	pick := func(ctx context.Context) string {
		if t := transport(ctx); t == TransportHTTP {
			return t
		}
		return TransportGRPC
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			return unary[pick(ctx)](ctx, req, info, next)
		}, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			return stream[pick(ss.Context())](srv, ss, info, next)
		}
}

// InitializeGRPC pre-creates the per-method series of both transports so dashboards show
// zeros, not gaps.
func (m *Metrics) InitializeGRPC(s *grpc.Server) {
	for _, sm := range m.grpc {
		sm.InitializeMetrics(s)
	}
}

// ObserveHTTP records one HTTP answer.
func (m *Metrics) ObserveHTTP(method string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, httpCode(code)).Inc()
	m.httpDuration.WithLabelValues(method).Observe(d.Seconds())
}

// WebhookDelivery counts one partner webhook delivery.
func (m *Metrics) WebhookDelivery(partner, eventType, outcome string) {
	m.webhooks.WithLabelValues(partner, boundLabel(eventType), outcome).Inc()
}

// OutboxAttempt counts one publication delivery attempt.
func (m *Metrics) OutboxAttempt(outcome string) { m.outboxAttempts.WithLabelValues(outcome).Inc() }

// ObserveStoreTx records one store transaction.
func (m *Metrics) ObserveStoreTx(err error, d time.Duration) {
	outcome := "commit"
	if err != nil {
		outcome = "error"
	}
	m.storeTx.WithLabelValues(outcome).Observe(d.Seconds())
}

// boundLabel keeps label values from partners (event types) short and from an unbounded set of
// shapes: a hostile partner payload must not explode the series count.
func boundLabel(v string) string {
	if len(v) > 64 {
		return "other"
	}
	for _, r := range v {
		if !(r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return "other"
		}
	}
	if v == "" {
		return "none"
	}
	return v
}
