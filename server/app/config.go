// Package app wires Covergate together: configuration, the gRPC and HTTP listeners, the services
// and their dependencies, and the ordered shutdown.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
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
}

// Defaults returns the configuration a newcomer gets with no flags.
func Defaults() Config {
	return Config{
		GRPCAddr:        "127.0.0.1:9090",
		HTTPAddr:        "127.0.0.1:8080",
		MaxBodyBytes:    1 << 20,
		MaxUploadBytes:  24 << 20,
		ShutdownTimeout: 20 * time.Second,
		LogFormat:       "auto",
		LogLevel:        "info",
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
	if len(problems) > 0 {
		return errors.New("invalid configuration:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}
