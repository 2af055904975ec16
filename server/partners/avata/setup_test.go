package avata_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	sandbox "github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A user wallet for wallet-scoped calls: Hardhat account #1 (published dev key).
const (
	userKey     = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
	merchantKey = sandbox.DefaultMerchantWalletKey
)

// gateway is a fake Covergate webhook endpoint on loopback: it verifies
// X-Avata-Signature like the real gateway and hands parsed callbacks to the test.
type gateway struct {
	srv       *httptest.Server
	callbacks chan *avata.Callback
	failFirst atomic.Int32 // answer 500 to this many requests first
	rejected  atomic.Int32 // requests with a bad signature
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{callbacks: make(chan *avata.Callback, 64)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/webhooks/avata" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if g.failFirst.Add(-1) >= 0 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		if err := avata.VerifyCallbackSignature([]byte(sandbox.DefaultCallbackSecret), raw, r.Header.Get(avata.CallbackSignatureHeader)); err != nil {
			g.rejected.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		cb, err := avata.ParseCallback(raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.callbacks <- cb
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// next waits for the next callback; the bound only stops a broken test from hanging.
func (g *gateway) next(t *testing.T) *avata.Callback {
	t.Helper()
	select {
	case cb := <-g.callbacks:
		return cb
	case <-time.After(10 * time.Second):
		t.Fatal("no callback arrived")
		return nil
	}
}

// env is a sandbox on a random loopback port, a fake gateway and a client.
type env struct {
	sb      *sandbox.Server
	srv     *httptest.Server
	gw      *gateway
	client  *avata.Client
	clock   *testClock
	user    *ethsign.Wallet
	baseURL string
}

type envOption func(*sandbox.Config, *avata.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{gw: newGateway(t), clock: &testClock{}}
	scfg := sandbox.DefaultConfig()
	scfg.GatewayURL = e.gw.srv.URL
	scfg.PolicyAcceptDelay = 0
	scfg.ClaimStepDelay = 0
	scfg.CallbackBackoff = time.Millisecond
	acfg := avata.Config{
		APIKey:            sandbox.DefaultAPIKey,
		BrandID:           sandbox.DefaultBrandID,
		MerchantWalletKey: merchantKey,
		ChainID:           1,
		Now:               e.clock.Now,
		HTTP: partnerhttp.Config{
			AttemptTimeout: 5 * time.Second,
			MaxAttempts:    3,
			BaseBackoff:    time.Millisecond,
			MaxBackoff:     5 * time.Millisecond,
			Breaker:        partnerhttp.BreakerConfig{ConsecutiveFailures: 50, OpenDuration: time.Second},
		},
	}
	for _, o := range opts {
		o(&scfg, &acfg)
	}
	e.sb = sandbox.New(scfg)
	e.srv = httptest.NewServer(e.sb.Handler())
	e.baseURL = e.srv.URL
	acfg.BaseURL = e.srv.URL
	client, err := avata.New(acfg)
	if err != nil {
		t.Fatalf("avata.New: %v", err)
	}
	e.client = client
	user, err := ethsign.NewWallet(userKey)
	if err != nil {
		t.Fatal(err)
	}
	e.user = user
	t.Cleanup(func() {
		client.Close()
		e.srv.Close()
		e.sb.Close()
	})
	return e
}

// count returns how many journaled requests hit path.
func (e *env) count(path string) int {
	n := 0
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func (e *env) faults(f sandboxkit.Faults) { e.sb.Kit().SetFaults(f) }

// testClock is the adapter's clock; tests move it forward to expire JWTs.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func ctx(t *testing.T) context.Context       { return t.Context() }
func num(s string) json.Number               { return json.Number(s) }

// errorInfo extracts what the API layer would send to the caller.
func errorInfo(t *testing.T, err error) (codes.Code, *errdetails.ErrorInfo) {
	t.Helper()
	st, ok := apierror.FromPartner(err) // the API edge's one translation
	if !ok {
		t.Fatalf("error %v (%T) is no partner error", err, err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return st.Code(), info
		}
	}
	t.Fatalf("status %v has no ErrorInfo", st)
	return 0, nil
}

func asAvataError(t *testing.T, err error) *avata.Error {
	t.Helper()
	var aerr *avata.Error
	if !errors.As(err, &aerr) {
		t.Fatalf("error %v (%T) is not *avata.Error", err, err)
	}
	return aerr
}
