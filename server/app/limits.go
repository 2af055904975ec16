package app

import (
	"flag"
	"fmt"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/gateway"
	"github.com/covergate/covergate/server/metrics"
	"github.com/covergate/covergate/server/ratelimit"
)

// Limits protect the gateway from callers, authenticated or not: timeouts for slow clients,
// connection and stream caps, the upload memory bound and rate limits. The defaults are safe for
// an Internet-facing listener and far above a normal load (make bench stays under them).
type Limits struct {
	// HTTP listener.
	HTTPReadHeaderTimeout time.Duration // request line and headers
	HTTPReadTimeout       time.Duration // a request body (after the headers)
	HTTPUploadReadTimeout time.Duration // a claim-document upload body
	HTTPWriteTimeout      time.Duration // the answer, after the body (per message on streams)
	HTTPIdleTimeout       time.Duration // keep-alive connection between requests
	HTTPMaxConnections    int           // open connections at once (more wait in the accept queue)
	UploadMemoryBytes     int64         // memory all in-flight uploads may hold together
	UploadQueueTimeout    time.Duration // how long an upload waits for its share before 503
	// gRPC listener.
	GRPCConnectionTimeout    time.Duration // TLS/HTTP2 handshake of a new connection
	GRPCMaxConnections       int
	GRPCMaxConcurrentStreams uint32        // per connection
	GRPCKeepaliveTime        time.Duration // ping an idle connection after this long
	GRPCKeepaliveTimeout     time.Duration // and close it if the ping is not answered
	GRPCMaxConnectionIdle    time.Duration // close connections without calls after this long
	GRPCKeepaliveMinTime     time.Duration // clients pinging more often are disconnected
	// Rate limits (token buckets; 0 = off).
	RateLimitPerKey       float64 // requests per second per API key / mTLS principal
	RateLimitKeyBurst     int
	RateLimitPartnerRoute float64 // deliveries per second per partner webhook route
	RateLimitPartnerBurst int
}

// DefaultLimits are the limits of a gateway started without flags.
func DefaultLimits() Limits {
	return Limits{
		HTTPReadHeaderTimeout:    10 * time.Second,
		HTTPReadTimeout:          30 * time.Second,
		HTTPUploadReadTimeout:    2 * time.Minute,
		HTTPWriteTimeout:         2 * time.Minute,
		HTTPIdleTimeout:          2 * time.Minute,
		HTTPMaxConnections:       4096,
		UploadMemoryBytes:        128 << 20,
		UploadQueueTimeout:       2 * time.Second,
		GRPCConnectionTimeout:    10 * time.Second,
		GRPCMaxConnections:       4096,
		GRPCMaxConcurrentStreams: 256,
		GRPCKeepaliveTime:        time.Minute,
		GRPCKeepaliveTimeout:     20 * time.Second,
		GRPCMaxConnectionIdle:    15 * time.Minute,
		GRPCKeepaliveMinTime:     10 * time.Second,
		RateLimitPerKey:          50000,
		RateLimitKeyBurst:        10000,
		RateLimitPartnerRoute:    50000,
		RateLimitPartnerBurst:    10000,
	}
}

func (l *Limits) registerFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.HTTPReadHeaderTimeout, "http-read-header-timeout", l.HTTPReadHeaderTimeout, "time a client has to send the request line and headers")
	fs.DurationVar(&l.HTTPReadTimeout, "http-read-timeout", l.HTTPReadTimeout, "time a client has to send a request body (slower clients are cut off)")
	fs.DurationVar(&l.HTTPUploadReadTimeout, "http-upload-read-timeout", l.HTTPUploadReadTimeout, "time a client has to send a claim-document upload body")
	fs.DurationVar(&l.HTTPWriteTimeout, "http-write-timeout", l.HTTPWriteTimeout, "time to answer a request after its body (per message on event streams)")
	fs.DurationVar(&l.HTTPIdleTimeout, "http-idle-timeout", l.HTTPIdleTimeout, "how long an idle keep-alive HTTP connection stays open")
	fs.IntVar(&l.HTTPMaxConnections, "http-max-connections", l.HTTPMaxConnections, "open HTTP connections at once; more wait to be accepted")
	fs.Int64Var(&l.UploadMemoryBytes, "upload-memory-bytes", l.UploadMemoryBytes, "memory all in-flight claim-document uploads may hold together (each counts twice its size)")
	fs.DurationVar(&l.UploadQueueTimeout, "upload-queue-timeout", l.UploadQueueTimeout, "how long an upload waits for memory before 503 with Retry-After")
	fs.DurationVar(&l.GRPCConnectionTimeout, "grpc-connection-timeout", l.GRPCConnectionTimeout, "time a new gRPC connection has to complete its handshake")
	fs.IntVar(&l.GRPCMaxConnections, "grpc-max-connections", l.GRPCMaxConnections, "open gRPC connections at once; more wait to be accepted")
	fs.Var(uint32Flag{&l.GRPCMaxConcurrentStreams}, "grpc-max-concurrent-streams", "concurrent calls per gRPC connection")
	fs.DurationVar(&l.GRPCKeepaliveTime, "grpc-keepalive-time", l.GRPCKeepaliveTime, "ping a gRPC connection idle for this long (keeps streams alive, finds dead peers)")
	fs.DurationVar(&l.GRPCKeepaliveTimeout, "grpc-keepalive-timeout", l.GRPCKeepaliveTimeout, "close a gRPC connection whose ping is not answered within this")
	fs.DurationVar(&l.GRPCMaxConnectionIdle, "grpc-max-connection-idle", l.GRPCMaxConnectionIdle, "close gRPC connections without calls for this long")
	fs.DurationVar(&l.GRPCKeepaliveMinTime, "grpc-keepalive-min-time", l.GRPCKeepaliveMinTime, "disconnect gRPC clients that ping more often than this")
	fs.Float64Var(&l.RateLimitPerKey, "rate-limit-per-key", l.RateLimitPerKey, "requests per second per API key or mTLS principal, both transports (0 = off)")
	fs.IntVar(&l.RateLimitKeyBurst, "rate-limit-key-burst", l.RateLimitKeyBurst, "burst of --rate-limit-per-key")
	fs.Float64Var(&l.RateLimitPartnerRoute, "rate-limit-partner-route", l.RateLimitPartnerRoute, "deliveries per second per partner webhook route (0 = off)")
	fs.IntVar(&l.RateLimitPartnerBurst, "rate-limit-partner-burst", l.RateLimitPartnerBurst, "burst of --rate-limit-partner-route")
}

func (l Limits) validate(maxUpload int64) []string {
	var problems []string
	for name, d := range map[string]time.Duration{
		"http-read-header-timeout": l.HTTPReadHeaderTimeout, "http-read-timeout": l.HTTPReadTimeout,
		"http-upload-read-timeout": l.HTTPUploadReadTimeout, "http-write-timeout": l.HTTPWriteTimeout,
		"http-idle-timeout": l.HTTPIdleTimeout, "upload-queue-timeout": l.UploadQueueTimeout,
		"grpc-connection-timeout": l.GRPCConnectionTimeout, "grpc-keepalive-time": l.GRPCKeepaliveTime,
		"grpc-keepalive-timeout": l.GRPCKeepaliveTimeout, "grpc-max-connection-idle": l.GRPCMaxConnectionIdle,
		"grpc-keepalive-min-time": l.GRPCKeepaliveMinTime,
	} {
		if d <= 0 {
			problems = append(problems, name+" must be positive")
		}
	}
	if l.HTTPMaxConnections < 1 || l.GRPCMaxConnections < 1 {
		problems = append(problems, "http-max-connections and grpc-max-connections must be at least 1")
	}
	if l.GRPCMaxConcurrentStreams < 1 {
		problems = append(problems, "grpc-max-concurrent-streams must be at least 1")
	}
	if l.UploadMemoryBytes < 2*maxUpload {
		problems = append(problems, fmt.Sprintf("upload-memory-bytes must be at least twice max-upload-bytes (%d), or no upload of the largest size could ever run", 2*maxUpload))
	}
	if l.RateLimitPerKey < 0 || l.RateLimitPartnerRoute < 0 {
		problems = append(problems, "rate limits must not be negative (0 turns them off)")
	}
	if (l.RateLimitPerKey > 0 && l.RateLimitKeyBurst < 1) || (l.RateLimitPartnerRoute > 0 && l.RateLimitPartnerBurst < 1) {
		problems = append(problems, "a rate limit's burst must be at least 1")
	}
	return problems
}

type uint32Flag struct{ p *uint32 }

func (f uint32Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return fmt.Sprint(*f.p)
}

func (f uint32Flag) Set(s string) error {
	var v uint32
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("want a non-negative integer: %w", err)
	}
	*f.p = v
	return nil
}

// limiter builds the rate limiter's fixed set of buckets: one per configured principal, one per
// partner webhook route.
func (a *App) limiter(authn *auth.Authenticator, refused *metrics.Refusals) *ratelimit.Limiter {
	l := a.cfg.Limits
	return ratelimit.New(ratelimit.Config{
		PerKey:     ratelimit.Rule{PerSecond: l.RateLimitPerKey, Burst: l.RateLimitKeyBurst},
		Principals: authn.Principals(),
		PerRoute:   ratelimit.Rule{PerSecond: l.RateLimitPartnerRoute, Burst: l.RateLimitPartnerBurst},
		Routes:     gateway.WebhookPaths(),
		Now:        time.Now,
		OnRefused:  func(kind ratelimit.Kind, _ string) { refused.Inc(string(kind)) },
	})
}

// grpcLimitOptions are the gRPC server's protections against slow and greedy clients.
func (l Limits) grpcOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ConnectionTimeout(l.GRPCConnectionTimeout),
		grpc.MaxConcurrentStreams(l.GRPCMaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: l.GRPCMaxConnectionIdle,
			Time:              l.GRPCKeepaliveTime,
			Timeout:           l.GRPCKeepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.GRPCKeepaliveMinTime, PermitWithoutStream: true}),
	}
}

// limitListeners caps the open connections of both listeners.
func (a *App) limitListeners() {
	a.httpLis = netutil.LimitListener(a.httpLis, a.cfg.Limits.HTTPMaxConnections)
	a.grpcLis = netutil.LimitListener(a.grpcLis, a.cfg.Limits.GRPCMaxConnections)
}
