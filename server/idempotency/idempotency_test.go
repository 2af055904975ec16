package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/idempotency"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

const createPolicy = "/covergate.insurance.v1.PolicyService/CreatePolicy"

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	store store.Store
	clock *clock
	icpt  grpc.UnaryServerInterceptor
	calls atomic.Int32
	// customerID is a stored customer the handler's responses name.
	customerID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, "sqlite:"+t.TempDir()+"/idem.db")
}

// engines returns a fresh database per engine: a SQLite file and a PostgreSQL schema dropped
// when the test ends. PostgreSQL is required, never skipped.
func engines(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"sqlite": "sqlite:" + t.TempDir() + "/idem.db", "postgres": pgtest.FreshDSN(t)}
}

func newFixtureOn(t testing.TB, dsn string, configure ...func(*idempotency.Config)) *fixture {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	st, err := engine.Open(context.Background(), dsn, store.Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{store: st, clock: clk}
	err = st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		c, err := tx.CreateCustomer(ctx, domain.Customer{Status: domain.CustomerActive, Profile: domain.Profile{Email: "ada@example.com"}})
		f.customerID = c.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := idempotency.Config{Store: st, Now: f.clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	i, err := idempotency.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.icpt = i.Unary()
	return f
}

// handler answers a CreatePolicy with a policy named after the request's reference, counting
// its calls (the "partner call").
func (f *fixture) handler(ctx context.Context, req any) (any, error) {
	f.calls.Add(1)
	r := req.(*insurancev1.CreatePolicyRequest)
	return &insurancev1.CreatePolicyResponse{Policy: &insurancev1.Policy{PolicyId: "p-" + r.GetReference(), CustomerId: f.customerID}}, nil
}

func callCtx(principal string, keys ...string) context.Context {
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: principal, Scopes: []string{"*"}})
	md := metadata.MD{}
	for _, k := range keys {
		md.Append(idempotency.MetadataKey, k)
	}
	return metadata.NewIncomingContext(ctx, md)
}

func (f *fixture) call(ctx context.Context, ref string, h grpc.UnaryHandler) (any, error) {
	if h == nil {
		h = f.handler
	}
	return f.icpt(ctx, &insurancev1.CreatePolicyRequest{QuoteId: "q", Reference: ref}, &grpc.UnaryServerInfo{FullMethod: createPolicy}, h)
}

func reason(err error) string { return apierror.ReasonOf(err) }

func TestSameKeyReplaysWithoutSecondCall(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) { testSameKeyReplays(t, newFixtureOn(t, dsn)) })
	}
}

func testSameKeyReplays(t *testing.T, f *fixture) {
	ctx := callCtx("key-a", "k1")
	first, err := f.call(ctx, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.call(ctx, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first.(proto.Message), second.(proto.Message)) {
		t.Fatalf("replay = %v, want %v", second, first)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d, want 1", n)
	}
	// The stored record is tied to the customer of the response, for erasure.
	rec, err := f.store.GetIdempotency(context.Background(), "key-a", "k1")
	if err != nil || rec.CustomerID != f.customerID {
		t.Fatalf("record = %+v, %v", rec, err)
	}

	// A response naming a customer the store does not hold is still recorded and replayed.
	unknown := func(context.Context, any) (any, error) {
		f.calls.Add(1)
		return &insurancev1.CreatePolicyResponse{Policy: &insurancev1.Policy{PolicyId: "p", CustomerId: "01900000-0000-7000-8000-000000000000"}}, nil
	}
	for range 2 {
		if _, err := f.call(callCtx("key-a", "k2"), "r2", unknown); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("handler calls = %d, want 2", n)
	}
}

func TestKeyScopes(t *testing.T) {
	cases := []struct {
		name      string
		first     context.Context
		second    context.Context
		secondRef string
		wantCalls int32
		wantCode  codes.Code
		wantWhy   string
	}{
		{"different request", callCtx("a", "k"), callCtx("a", "k"), "other", 1, codes.InvalidArgument, apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)},
		{"other principal, same key", callCtx("a", "k"), callCtx("b", "k"), "r", 2, codes.OK, ""},
		{"other key", callCtx("a", "k"), callCtx("a", "k2"), "r", 2, codes.OK, ""},
		{"no key runs every time", callCtx("a"), callCtx("a"), "r", 2, codes.OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.call(tc.first, "r", nil); err != nil {
				t.Fatal(err)
			}
			_, err := f.call(tc.second, tc.secondRef, nil)
			if status.Code(err) != tc.wantCode || reason(err) != tc.wantWhy {
				t.Fatalf("second call = %v, want %v %s", err, tc.wantCode, tc.wantWhy)
			}
			if n := f.calls.Load(); n != tc.wantCalls {
				t.Fatalf("handler calls = %d, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestInvalidKeys(t *testing.T) {
	for name, keys := range map[string][]string{
		"empty":     {""},
		"too long":  {strings.Repeat("k", 256)},
		"control":   {"a\x01b"},
		"non-ASCII": {"schlüssel"},
		"two keys":  {"a", "b"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.call(callCtx("a", keys...), "r", nil)
			if status.Code(err) != codes.InvalidArgument || f.calls.Load() != 0 {
				t.Fatalf("key %q = %v after %d calls, want INVALID_ARGUMENT before any call", keys, err, f.calls.Load())
			}
		})
	}
	f := newFixture(t)
	if _, err := f.call(callCtx("a", strings.Repeat("k", 255)), "r", nil); err != nil {
		t.Fatalf("255-character key: %v", err)
	}
}

func TestFailedRequestReleasesKey(t *testing.T) {
	f := newFixture(t)
	ctx := callCtx("a", "k")
	boom := status.Error(codes.Unavailable, "partner down")
	_, err := f.call(ctx, "r", func(context.Context, any) (any, error) { f.calls.Add(1); return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("first call = %v", err)
	}
	if _, err := f.call(ctx, "r", nil); err != nil {
		t.Fatalf("retry after a failure: %v", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("handler calls = %d, want 2 (the failure is not replayed)", n)
	}
}

func TestConcurrentSameKeyRunsOnce(t *testing.T) {
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) { testConcurrentSameKey(t, newFixtureOn(t, dsn)) })
	}
}

func testConcurrentSameKey(t *testing.T, f *fixture) {
	ctx := callCtx("a", "k")
	release := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	slow := func(ctx context.Context, req any) (any, error) {
		once.Do(func() { close(entered) })
		<-release
		return f.handler(ctx, req)
	}
	firstDone := make(chan error, 1)
	go func() { _, err := f.call(ctx, "r", slow); firstDone <- err }()
	<-entered
	const others = 6
	var wg sync.WaitGroup
	errs := make(chan error, others)
	for range others {
		wg.Add(1)
		go func() { defer wg.Done(); _, err := f.call(ctx, "r", slow); errs <- err }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if status.Code(err) != codes.Aborted || reason(err) != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_IN_USE) {
			t.Fatalf("concurrent call = %v, want ABORTED IDEMPOTENCY_KEY_IN_USE", err)
		}
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if _, err := f.call(ctx, "r", slow); err != nil {
		t.Fatalf("retry after completion: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d, want 1", n)
	}
}

func TestKeysExpire(t *testing.T) {
	f := newFixture(t)
	ctx := callCtx("a", "k")
	if _, err := f.call(ctx, "r", nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(23 * time.Hour)
	if _, err := f.call(ctx, "other", nil); reason(err) != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED) {
		t.Fatalf("reuse within 24 h = %v", err)
	}
	f.clock.Add(2 * time.Hour)
	if _, err := f.call(ctx, "other", nil); err != nil {
		t.Fatalf("reuse after 24 h: %v", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("handler calls = %d, want 2", n)
	}

	// The sweep deletes expired records.
	f.clock.Add(25 * time.Hour)
	sweepCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- idempotency.Sweep(sweepCtx, f.store, 5*time.Millisecond, f.clock.Now, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := f.store.GetIdempotency(context.Background(), "a", "k")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired key not swept: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCoveredMethods(t *testing.T) {
	st, err := engine.Open(context.Background(), "sqlite:"+t.TempDir()+"/c.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	i, err := idempotency.New(idempotency.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]bool{
		createPolicy: true,
		"/covergate.insurance.v1.PolicyService/CancelPolicy":         true,
		"/covergate.insurance.v1.QuoteService/CreateQuote":           true,
		"/covergate.insurance.v1.EventService/PublishEvent":          true,
		"/covergate.insurance.v1.CustomerService/EraseCustomer":      true,
		"/covergate.insurance.v1.CustomerService/PutExternalData":    true,
		"/covergate.insurance.v1.PolicyService/GetPolicy":            false,
		"/covergate.insurance.v1.CustomerService/GetExternalData":    false,
		"/covergate.insurance.v1.EventService/WatchEvents":           false,
		"/covergate.webhooks.v1.AvataWebhookService/AvataCallback":   false,
		"/covergate.insurance.v1.ClaimService/GetClaimPortalLink":    false,
		"/covergate.insurance.v1.ClaimService/UploadClaimDocuments":  true,
		"/covergate.insurance.v1.CustomerService/VerifyPortalToken":  true,
		"/covergate.insurance.v1.CustomerService/DeleteExternalData": true,
	} {
		if got := i.Covers(method); got != want {
			t.Errorf("Covers(%s) = %v, want %v", method, got, want)
		}
	}
	// An uncovered method passes through even with a key.
	calls := 0
	for range 2 {
		_, err := i.Unary()(callCtx("a", "k"), &insurancev1.GetPolicyRequest{PolicyId: "x"},
			&grpc.UnaryServerInfo{FullMethod: "/covergate.insurance.v1.PolicyService/GetPolicy"},
			func(context.Context, any) (any, error) { calls++; return &insurancev1.GetPolicyResponse{}, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("read method calls = %d, want 2", calls)
	}
}

func TestCustomerIDOf(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		want string
	}{
		{&insurancev1.CreatePolicyResponse{Policy: &insurancev1.Policy{CustomerId: "c1"}}, "c1"},
		{&insurancev1.EraseCustomerResponse{Customer: &insurancev1.Customer{CustomerId: "c2"}}, "c2"},
		{&insurancev1.PutExternalDataResponse{Key: "k"}, ""},
		{&insurancev1.SubmitKycRequest{CustomerId: "c3"}, "c3"},
	} {
		if got := idempotency.CustomerIDOf(tc.msg); got != tc.want {
			t.Errorf("CustomerIDOf(%T) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
