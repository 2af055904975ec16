package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// serverTLS loads the listeners' TLS configuration, or returns nil for plaintext. Files are read
// once at start, so a bad certificate fails the start instead of the first handshake.
func (cfg Config) serverTLS() (*tls.Config, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("app: load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// grpcCredentials adds client-certificate verification to the gRPC listener when a client CA is
// configured. Certificates are verified if given, not required: callers without one still
// authenticate with an API key.
func (cfg Config) grpcCredentials(base *tls.Config) (grpc.ServerOption, error) {
	if base == nil {
		return nil, nil
	}
	c := base.Clone()
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("app: read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("app: client CA file holds no PEM certificate")
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return grpc.Creds(credentials.NewTLS(c)), nil
}
