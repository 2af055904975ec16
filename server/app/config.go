// Package app wires Covergate together: configuration, the gRPC and HTTP listeners, the services
// and their dependencies, and the ordered shutdown.
package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/covergate/covergate/server/idempotency"
	"github.com/covergate/covergate/server/jobs"
	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/webhook"
)

// Config is the effective configuration of `covergate serve`. Every field is a flag, also
// readable from the environment as COVERGATE_<FLAG> (dashes become underscores).
type Config struct {
	GRPCAddr        string
	HTTPAddr        string
	APIKeys         string // TOKEN:SCOPE[,SCOPE...] entries separated by ';'
	MaxBodyBytes    int64
	MaxUploadBytes  int64
	ShutdownTimeout time.Duration
	LogFormat       string // auto | json | text
	LogLevel        string // debug | info | warn | error
	Database        string // sqlite:PATH or postgres://...
	Partners        PartnersConfig
	CORSOrigins     string        // comma-separated origins allowed to call the REST API from browsers
	SSEHeartbeat    time.Duration // comment line on idle Server-Sent Events streams
	TLSCertFile     string        // server certificate (PEM) for both listeners; empty = plaintext
	TLSKeyFile      string
	ClientCAFile    string // CA (PEM) for gRPC client certificates (mTLS); empty = none asked
	MTLSPrincipals  string // CN:SCOPE[,SCOPE...] separated by ';'
	// Internal-API flows (wire_flows.go).
	QuoteTTL            time.Duration // how long a quote can be bought; 0 = 15 minutes
	IdempotencyLease    time.Duration // how long a key in progress is held without renewal
	OutboxLease         time.Duration // how long a publication being delivered is reserved
	PublishClaimUpdates bool          // publish claim status changes to Scalepoint
	PartnerCallTimeout  time.Duration // budget of one partner call with a side effect, detached from the caller
	ReconcileInterval   time.Duration // how often unknown partner-call outcomes are looked for
	// Etvas webhook flows (wire_etvas.go).
	EtvasTimestampWindow time.Duration // accepted age of an Etvas event timestamp (≥ the retry horizon)
	JobRetryInitial      time.Duration // first retry delay of a failed background job (doubling)
	JobRetryMax          time.Duration // longest retry delay of a background job
	JobMaxAttempts       int           // attempts before a background job is marked FAILED
	// Clock, when set, replaces time.Now for webhook verification and background jobs. Not a
	// flag: tests use it to deliver an event "hours later".
	Clock func() time.Time
	// Customers' wallet sign-in with Avata (wire_wallet.go).
	WalletTokenKey   string        // AES-256 key sealing customers' Avata access tokens; empty = random per process
	WalletSessionTTL time.Duration // lifetime of an access token whose exp is unreadable; 0 = 15 minutes
	WalletNonceTTL   time.Duration // how long a sign-in message can be signed; 0 = 5 minutes
	// Protections against slow, greedy and hostile callers (limits.go).
	Limits    Limits
	DebugAddr string // loopback listener for net/http/pprof (debug.go); empty = off
}

// Defaults returns the configuration a newcomer gets with no flags.
func Defaults() Config {
	return Config{
		GRPCAddr:        "127.0.0.1:9090",
		HTTPAddr:        "127.0.0.1:8080",
		MaxBodyBytes:    1 << 20,
		MaxUploadBytes:  24 << 20,
		ShutdownTimeout: 20 * time.Second,
		SSEHeartbeat:    15 * time.Second,
		LogFormat:       "auto",
		LogLevel:        "info",
		Database:        engine.DefaultDSN,
		QuoteTTL:        15 * time.Minute,

		IdempotencyLease:     idempotency.DefaultLease,
		OutboxLease:          outbox.DefaultLease,
		EtvasTimestampWindow: webhook.DefaultEtvasWindow,
		JobRetryInitial:      jobs.DefaultRetryInitial,
		JobRetryMax:          jobs.DefaultRetryMax,
		JobMaxAttempts:       jobs.DefaultMaxAttempts,
		PartnerCallTimeout:   partnerops.DefaultCallTimeout,
		ReconcileInterval:    partnerops.DefaultReconcileInterval,
		Limits:               DefaultLimits(),
		Partners: PartnersConfig{
			Mode:                    PartnersAuto,
			SandboxEtvasAddr:        "127.0.0.1:9181",
			SandboxAvataAddr:        "127.0.0.1:9182",
			SandboxScalepointAddr:   "127.0.0.1:9183",
			EtvasURL:                etvas.DefaultBaseURL,
			EtvasExternalDataMethod: "POST",
			EtvasExternalDataDelete: "null",
			EtvasCurrency:           "EUR",
			AvataChainID:            1,
			ScalepointCountry:       "dk",
			// The requirements the partner documents do not define are on unless switched off.
			EtvasPortalAPIKeyRequired:      true,
			AvataCallbackSignatureRequired: true,
			ScalepointWebhookTokenRequired: true,
		},
	}
}

// RegisterFlags binds the configuration to fs, with cfg's values as defaults.
func (cfg *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP listen address (REST, webhooks, health, OpenAPI)")
	fs.StringVar(&cfg.APIKeys, "api-keys", cfg.APIKeys, "API keys: TOKEN:SCOPE[,SCOPE...] separated by ';' (TOKEN may be {sha256}HEX)")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", cfg.MaxBodyBytes, "largest accepted request body, except uploads")
	fs.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", cfg.MaxUploadBytes, "largest accepted claim-document upload request")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long in-flight requests may take to finish on shutdown")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: auto (text on a terminal, else JSON), json or text")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&cfg.Database, "database", cfg.Database, "store: "+engine.Accepted)
	fs.DurationVar(&cfg.SSEHeartbeat, "sse-heartbeat", cfg.SSEHeartbeat, "how often an idle Server-Sent Events stream (GET /v1/events:watch) sends a comment line, so proxies keep it open")
	fs.StringVar(&cfg.CORSOrigins, "cors-origins", cfg.CORSOrigins, "comma-separated browser origins allowed to call the REST API (CORS); empty = none")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert-file", cfg.TLSCertFile, "PEM server certificate for the gRPC and HTTP listeners (with --tls-key-file)")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key-file", cfg.TLSKeyFile, "PEM private key of --tls-cert-file")
	fs.StringVar(&cfg.ClientCAFile, "grpc-client-ca-file", cfg.ClientCAFile, "PEM CA bundle: gRPC clients presenting a certificate it signed are verified (mTLS)")
	fs.StringVar(&cfg.MTLSPrincipals, "mtls-principals", cfg.MTLSPrincipals, "client certificate subjects and their scopes: CN:SCOPE[,SCOPE...] separated by ';'")
	cfg.Partners.registerFlags(fs)
	cfg.registerFlowFlags(fs)
	cfg.registerEtvasFlags(fs)
	cfg.registerWalletFlags(fs)
	cfg.Limits.registerFlags(fs)
	cfg.registerDebugFlags(fs)
}

// Validate reports every problem at once, so a misconfigured deployment is fixed in one round.
func (cfg Config) Validate() error {
	var problems []string
	for name, addr := range map[string]string{"grpc-addr": cfg.GRPCAddr, "http-addr": cfg.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: want host:port", name, addr))
		}
	}
	if cfg.GRPCAddr == cfg.HTTPAddr && !strings.HasSuffix(cfg.GRPCAddr, ":0") {
		problems = append(problems, "grpc-addr and http-addr must differ")
	}
	if cfg.MaxBodyBytes < 1024 {
		problems = append(problems, "max-body-bytes must be at least 1024")
	}
	if cfg.MaxUploadBytes < cfg.MaxBodyBytes {
		problems = append(problems, "max-upload-bytes must be at least max-body-bytes")
	}
	if cfg.SSEHeartbeat <= 0 {
		problems = append(problems, "sse-heartbeat must be positive")
	}
	if cfg.ShutdownTimeout <= 0 {
		problems = append(problems, "shutdown-timeout must be positive")
	}
	switch cfg.LogFormat {
	case "auto", "json", "text":
	default:
		problems = append(problems, fmt.Sprintf("log-format %q: want auto, json or text", cfg.LogFormat))
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("log-level %q: want debug, info, warn or error", cfg.LogLevel))
	}
	if _, _, err := engine.Parse(cfg.Database); err != nil {
		problems = append(problems, fmt.Sprintf("database: %v", err))
	}
	problems = append(problems, cfg.Partners.validate()...)
	problems = append(problems, cfg.validateAutoSandbox()...)
	problems = append(problems, cfg.validateTLS()...)
	problems = append(problems, cfg.validateFlows()...)
	problems = append(problems, cfg.validateEtvas()...)
	problems = append(problems, cfg.validateWallet()...)
	problems = append(problems, cfg.Limits.validate(cfg.MaxUploadBytes)...)
	problems = append(problems, cfg.validateDebug()...)
	for _, o := range splitList(cfg.CORSOrigins) {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			problems = append(problems, fmt.Sprintf("cors-origins: %q is not an origin (want https://host[:port] or *)", o))
		}
	}
	if len(problems) > 0 {
		// One line, every problem: start-up errors are read in log collectors line by line.
		return errors.New("invalid configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

func (cfg Config) validateTLS() []string {
	var problems []string
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		problems = append(problems, "tls-cert-file and tls-key-file go together")
	}
	if cfg.ClientCAFile != "" && cfg.TLSCertFile == "" {
		problems = append(problems, "grpc-client-ca-file needs tls-cert-file and tls-key-file")
	}
	if cfg.MTLSPrincipals != "" && cfg.ClientCAFile == "" {
		problems = append(problems, "mtls-principals needs grpc-client-ca-file")
	}
	return problems
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// secretFlags hold credentials: --print-config shows only whether they are set.
var secretFlags = map[string]bool{
	"api-keys": true, "etvas-api-key": true, "etvas-webhook-api-key": true, "etvas-event-secret": true, "etvas-signing-secret": true,
	"avata-api-key": true, "avata-callback-secret": true, "avata-merchant-wallet-key": true,
	"scalepoint-client-secret": true, "scalepoint-webhook-token": true, "wallet-token-key": true,
}

// PrintConfig writes the effective configuration (flags after env and config file) as YAML that
// --config accepts, with secrets redacted and passwords removed from database URLs.
func PrintConfig(w io.Writer, fs *flag.FlagSet) error {
	var b strings.Builder
	b.WriteString("# covergate serve: effective configuration (secrets redacted)\n")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "print-config" {
			return
		}
		v := f.Value.String()
		switch {
		case secretFlags[f.Name] && v != "":
			v = "[redacted]"
		case f.Name == "database":
			v = redactDSN(v)
		}
		fmt.Fprintf(&b, "%s: %s\n", f.Name, strconv.Quote(v))
	})
	_, err := io.WriteString(w, b.String())
	return err
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
