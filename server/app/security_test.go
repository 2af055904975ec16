package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

// pki is a throwaway CA with a server and two client certificates, written as PEM files.
type pki struct {
	pool                          *x509.CertPool
	caFile, serverCert, serverKey string
	mapped, unmapped              tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "covergate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := pki{pool: x509.NewCertPool(), caFile: filepath.Join(dir, "ca.pem")}
	p.pool.AddCert(ca)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)

	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := issue(2, "covergate", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.serverCert, p.serverKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writePEM(t, p.serverCert, "CERTIFICATE", serverDER)
	keyDER, _ := x509.MarshalECPrivateKey(serverKey)
	writePEM(t, p.serverKey, "EC PRIVATE KEY", keyDER)
	for _, c := range []struct {
		cn  string
		out *tls.Certificate
	}{{"billing-service", &p.mapped}, {"stranger", &p.unmapped}} {
		der, key := issue(int64(len(c.cn)+10), c.cn, x509.ExtKeyUsageClientAuth, nil)
		*c.out = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSAndClientCertificates(t *testing.T) {
	p := newPKI(t)
	s := apptest.Start(t, func(c *app.Config) {
		c.TLSCertFile, c.TLSKeyFile, c.ClientCAFile = p.serverCert, p.serverKey, p.caFile
		c.MTLSPrincipals = "billing-service:policies.read"
	})

	// HTTPS with a client that verifies the server against our CA.
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}
	resp, err := strict.Get(s.HTTPURL + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTPS /healthz = %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to a TLS listener does not get through.
	if r, err := http.Get("http://" + s.App.HTTPAddr() + "/healthz"); err == nil {
		_ = r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Fatal("plaintext HTTP was served on the TLS listener")
		}
	}

	dial := func(cert *tls.Certificate) insurancev1.PolicyServiceClient {
		cfg := &tls.Config{RootCAs: p.pool}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		conn, err := grpc.NewClient(s.App.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return insurancev1.NewPolicyServiceClient(conn)
	}
	missing := &insurancev1.GetPolicyRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"}
	cases := []struct {
		name  string
		cert  *tls.Certificate
		ctx   context.Context
		code  codes.Code
		check func(*testing.T, error)
	}{
		// Authenticated by its certificate alone: the call gets past auth (NotFound, not 401).
		{name: "mapped client certificate", cert: &p.mapped, ctx: context.Background(), code: codes.NotFound},
		{name: "unmapped certificate without a key", cert: &p.unmapped, ctx: context.Background(), code: codes.Unauthenticated},
		{name: "unmapped certificate with a key", cert: &p.unmapped, ctx: apptest.WithToken(apptest.ReaderKey), code: codes.NotFound},
		{name: "no certificate, with a key", ctx: apptest.WithToken(apptest.ReaderKey), code: codes.NotFound},
		{name: "no certificate, no key", ctx: context.Background(), code: codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(tc.cert).GetPolicy(tc.ctx, missing)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.code)
			}
		})
	}
	// The certificate's scopes are enforced like a key's.
	_, err = insurancev1.NewQuoteServiceClient(mustConn(t, s.App.GRPCAddr(), p, &p.mapped)).
		GetQuote(context.Background(), &insurancev1.GetQuoteRequest{QuoteId: missing.PolicyId})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("mapped certificate outside its scopes: %v, want PermissionDenied", err)
	}
}

func mustConn(t *testing.T, addr string, p pki, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: p.pool, Certificates: []tls.Certificate{*cert},
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestCORS(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CORSOrigins = "https://app.example.com" })
	cases := []struct {
		origin    string
		wantAllow string
	}{
		{"https://app.example.com", "https://app.example.com"},
		{"https://evil.example.com", ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodOptions, s.HTTPURL+"/v1/quotes", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantAllow {
			t.Errorf("preflight from %s: Allow-Origin = %q, want %q", tc.origin, got, tc.wantAllow)
		}
		if tc.wantAllow != "" && resp.StatusCode/100 != 2 {
			t.Errorf("preflight from %s: status %d", tc.origin, resp.StatusCode)
		}
	}
	r := s.Do(t, http.MethodGet, "/healthz", "", nil, map[string]string{"Origin": "https://app.example.com"})
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("simple request CORS headers: %v", r.Header)
	}
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	cfg := app.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--api-keys", "super-secret-key:*", "--avata-callback-secret", "cb-secret",
		"--database", "postgres://covergate:db-password@db:5432/covergate"}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := app.PrintConfig(&out, fs); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"super-secret-key", "cb-secret", "db-password"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("print-config shows %q:\n%s", secret, out.String())
		}
	}
	for _, want := range []string{`api-keys: "[redacted]"`, `http-addr: "127.0.0.1:8080"`, `database: "postgres://covergate:xxxxx@db:5432/covergate"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("print-config lacks %s:\n%s", want, out.String())
		}
	}
}
