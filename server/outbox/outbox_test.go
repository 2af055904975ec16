package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

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

// publisher is a scripted Scalepoint: results are returned in order (nil = accepted), then
// every call is accepted. It records what it accepted, by correlation id.
type publisher struct {
	mu       sync.Mutex
	script   []error
	calls    int
	accepted map[string]int
	order    []string      // accepted payloads, in order
	block    chan struct{} // when set, each call waits for it
	started  chan struct{} // when set, receives a value as each call starts
	state    string        // BreakerState
}

func (p *publisher) Publish(ctx context.Context, eventType string, payload []byte) (string, error) {
	if p.started != nil {
		p.started <- struct{}{}
	}
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if len(p.script) > 0 {
		err := p.script[0]
		p.script = p.script[1:]
		if err != nil {
			return "", err
		}
	}
	if p.accepted == nil {
		p.accepted = map[string]int{}
	}
	p.accepted[string(payload)]++
	p.order = append(p.order, string(payload))
	return strconv.Itoa(1000 + p.calls), nil
}

func (p *publisher) BreakerState() string {
	if p.state == "" {
		return "closed"
	}
	return p.state
}

func partnerErr(status int, msg string, retryAfter time.Duration) error {
	kind := partnerhttp.KindUnavailable
	if status >= 400 && status < 500 {
		kind = partnerhttp.KindRejected
	}
	return &partnerhttp.Error{
		Partner: "scalepoint", Operation: "publish", HTTPStatus: status, PartnerMessage: msg,
		Kind: kind, RetryAfter: retryAfter,
		Err: fmt.Errorf("HTTP %d", status),
	}
}

type fixture struct {
	store store.Store
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	st, err := engine.Open(context.Background(), "sqlite:"+t.TempDir()+"/outbox.db", store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &fixture{store: st, clock: clk}
}

func openSQLite(path string) (store.Store, error) {
	return engine.Open(context.Background(), "sqlite:"+path, store.Options{Logger: slog.New(slog.DiscardHandler)})
}

func (f *fixture) enqueue(t testing.TB, n int) []string {
	t.Helper()
	var ids []string
	err := f.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		for i := range n {
			p, err := tx.EnqueuePublication(ctx, domain.Publication{
				Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "t"},
				EventType:   "case_created", CorrelationID: fmt.Sprintf("corr-%d", i),
				Payload: []byte(fmt.Sprintf(`{"eventType":"case_created","n":%d}`, i)),
			})
			if err != nil {
				return err
			}
			ids = append(ids, p.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (f *fixture) get(t *testing.T, id string) domain.Publication {
	t.Helper()
	p, err := f.store.GetPublication(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) worker(pub outbox.Publisher, owner string) *outbox.Worker {
	return &outbox.Worker{Store: f.store, Publisher: pub, Owner: owner, Now: f.clock.Now, BaseBackoff: time.Second, MaxBackoff: time.Minute}
}

func runOnce(t *testing.T, w *outbox.Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil || n != want {
		t.Fatalf("RunOnce = %d, %v; want %d claimed", n, err, want)
	}
}

func TestRetryThenDeliver(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue(t, 1)[0]
	pub := &publisher{script: []error{
		partnerErr(http.StatusServiceUnavailable, "maintenance", 0),
		partnerErr(http.StatusTooManyRequests, "slow down", 2*time.Minute),
	}}
	w := f.worker(pub, "w1")

	start := f.clock.Now()
	runOnce(t, w, 1)
	p := f.get(t, id)
	if p.Status != domain.PublicationPending || p.Attempts != 1 || !strings.Contains(p.LastError, "503") || !strings.Contains(p.LastError, "maintenance") {
		t.Fatalf("after a 503: %+v", p)
	}
	if p.NextAttemptTime.Before(start) || p.NextAttemptTime.After(start.Add(time.Second)) {
		t.Fatalf("first retry at %v, want within the 1 s backoff ceiling after %v", p.NextAttemptTime, start)
	}
	runOnce(t, w, 0) // not due yet

	f.clock.Add(time.Second)
	runOnce(t, w, 1)
	p = f.get(t, id)
	if p.Attempts != 2 || !strings.Contains(p.LastError, "slow down") || p.NextAttemptTime.Before(f.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("after a 429 with Retry-After 2m: %+v (now %v)", p, f.clock.Now())
	}

	f.clock.Add(2 * time.Minute)
	runOnce(t, w, 1)
	p = f.get(t, id)
	if p.Status != domain.PublicationDelivered || p.Attempts != 3 || p.PartnerEventID == "" || p.DeliverTime.IsZero() {
		t.Fatalf("after recovery: %+v", p)
	}
}

func TestPermanentRefusalFails(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"400 incorrect payload", partnerErr(http.StatusBadRequest, "Payload does not match schema", 0)},
		{"403 insufficient scope", partnerErr(http.StatusForbidden, "insufficient_scope", 0)},
		{"refused before sending", &partnerhttp.Error{Partner: "scalepoint", Kind: partnerhttp.KindInputTooLarge, Err: errors.New("payload too large")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.enqueue(t, 1)[0]
			w := f.worker(&publisher{script: []error{tc.err}}, "w1")
			runOnce(t, w, 1)
			p := f.get(t, id)
			if p.Status != domain.PublicationFailed || p.Attempts != 1 || p.LastError == "" {
				t.Fatalf("after %v: %+v", tc.err, p)
			}
			var pe *partnerhttp.Error
			if errors.As(tc.err, &pe) && pe.PartnerMessage != "" && !strings.Contains(p.LastError, pe.PartnerMessage) {
				t.Fatalf("last error %q lost the partner message %q", p.LastError, pe.PartnerMessage)
			}
			f.clock.Add(time.Hour)
			runOnce(t, w, 0) // a failed publication is never retried by itself
		})
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue(t, 1)[0]
	down := partnerErr(http.StatusBadGateway, "", 0)
	w := f.worker(&publisher{script: []error{down, down, down}}, "w1")
	w.MaxAttempts = 2
	runOnce(t, w, 1)
	f.clock.Add(time.Hour)
	runOnce(t, w, 1)
	p := f.get(t, id)
	if p.Status != domain.PublicationFailed || p.Attempts != 2 || !strings.Contains(p.LastError, "gave up after 2 attempts") {
		t.Fatalf("after 2 failed attempts: %+v", p)
	}
}

func TestLeaseTakeover(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue(t, 1)[0]
	// A worker claims the publication and crashes before recording anything.
	err := f.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		due, err := tx.ClaimDue(ctx, "crashed", f.clock.Now(), 30*time.Second, 10)
		if len(due) != 1 {
			return fmt.Errorf("claimed %d", len(due))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := &publisher{}
	w := f.worker(pub, "w2")
	runOnce(t, w, 0) // leased to the crashed worker
	f.clock.Add(31 * time.Second)
	runOnce(t, w, 1)
	if p := f.get(t, id); p.Status != domain.PublicationDelivered || p.Attempts != 2 {
		t.Fatalf("after takeover: %+v", p)
	}
	// The crashed worker coming back cannot overwrite the outcome.
	err = f.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.MarkFailed(ctx, id, "crashed", "late", f.clock.Now())
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("late outcome from the old owner = %v, want ErrConflict", err)
	}
}

func TestOpenBreakerClaimsNothing(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue(t, 1)[0]
	pub := &publisher{state: "open"}
	w := f.worker(pub, "w1")
	runOnce(t, w, 0)
	if p := f.get(t, id); p.Attempts != 0 || pub.calls != 0 {
		t.Fatalf("with the breaker open: %+v, %d calls", p, pub.calls)
	}
	pub.state = "half-open"
	runOnce(t, w, 1)
	if p := f.get(t, id); p.Status != domain.PublicationDelivered {
		t.Fatalf("after the breaker half-opened: %+v", p)
	}
}

// TestBreakerOpeningMidBatchBurnsNoAttempts: the first publication of a batch opens the
// breaker; the rest are not sent and get their leases back with the attempt not counted, so an
// outage cannot use up attempts of publications that never reached the partner.
func TestBreakerOpeningMidBatchBurnsNoAttempts(t *testing.T) {
	f := newFixture(t)
	ids := f.enqueue(t, 3)
	open := &partnerhttp.Error{Partner: "scalepoint", Operation: "publish", Kind: partnerhttp.KindCircuitOpen,
		Err: errors.New("circuit open")}
	pub := &publisher{script: []error{errors.New("503 from partner"), open, open}}
	w := f.worker(pub, "w1")
	w.Concurrency = 1 // in queue order: the first call fails, the breaker refuses the others
	runOnce(t, w, 3)
	if p := f.get(t, ids[0]); p.Attempts != 1 || p.LastError == "" {
		t.Fatalf("the publication that failed: %+v", p)
	}
	for _, id := range ids[1:] {
		if p := f.get(t, id); p.Attempts != 0 || p.LeaseOwner != "" || p.Status != domain.PublicationPending {
			t.Fatalf("a publication refused by the open breaker: %+v, want 0 attempts, no lease, pending", p)
		}
	}
}

// replicaDSNs returns a DSN per engine whose stores start empty: a SQLite file, and a fresh
// PostgreSQL schema (dropped when the test ends). PostgreSQL is required, never skipped.
func replicaDSNs(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"sqlite": "sqlite:" + t.TempDir() + "/replicas.db", "postgres": pgtest.FreshDSN(t)}
}

// TestReplicasNeverDeliverTwice runs workers on two store handles (two replicas of the gateway)
// over one database: every publication is delivered exactly once.
func TestReplicasNeverDeliverTwice(t *testing.T) {
	for engineName, dsn := range replicaDSNs(t) {
		t.Run(engineName, func(t *testing.T) {
			var replicas []store.Store
			for range 2 {
				st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				replicas = append(replicas, st)
			}
			f := &fixture{store: replicas[0], clock: &clock{now: time.Now()}}
			ids := f.enqueue(t, 120)
			pub := &publisher{}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i, owner := range []string{"replica-a-1", "replica-a-2", "replica-b-1", "replica-b-2"} {
				w := &outbox.Worker{Store: replicas[i/2], Publisher: pub, Owner: owner, Batch: 7, Poll: time.Millisecond,
					Logger: slog.New(slog.DiscardHandler)}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := w.Run(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				s, err := replicas[1].OutboxStats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if s.Delivered == int64(len(ids)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivered %d of %d", s.Delivered, len(ids))
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			pub.mu.Lock()
			defer pub.mu.Unlock()
			if len(pub.accepted) != len(ids) || pub.calls != len(ids) {
				t.Fatalf("%d distinct events in %d calls, want %d in %d", len(pub.accepted), pub.calls, len(ids), len(ids))
			}
			for payload, n := range pub.accepted {
				if n != 1 {
					t.Fatalf("%s published %d times", payload, n)
				}
			}
		})
	}
}

func TestSingleFlightDeliversInQueueOrder(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 30)
	pub := &publisher{}
	w := f.worker(pub, "w1")
	w.Concurrency, w.Batch = 1, 8
	for n := -1; n != 0; {
		var err error
		if n, err = w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(pub.order) != 30 {
		t.Fatalf("delivered %d, want 30", len(pub.order))
	}
	for i, payload := range pub.order {
		if want := fmt.Sprintf(`{"eventType":"case_created","n":%d}`, i); payload != want {
			t.Fatalf("delivery %d = %s, want %s", i, payload, want)
		}
	}
}

func TestShutdownFinishesInFlightDelivery(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue(t, 1)[0]
	pub := &publisher{block: make(chan struct{}), started: make(chan struct{}, 1)}
	w := f.worker(pub, "w1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-pub.started // the delivery is in flight
	cancel()
	close(pub.block)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if p := f.get(t, id); p.Status != domain.PublicationDelivered {
		t.Fatalf("in-flight publication after shutdown: %+v", p)
	}
}

func TestBackoff(t *testing.T) {
	base, maxDelay := time.Second, 5*time.Minute
	cases := []struct {
		attempt int
		u       float64
		want    time.Duration
	}{
		{1, 0.999, 999 * time.Millisecond},
		{1, 0, 0},
		{2, 0.5, time.Second},
		{3, 0.5, 2 * time.Second},
		{9, 1, 256 * time.Second},
		{10, 1, maxDelay},
		{200, 0.5, maxDelay / 2},
		{0, 1, time.Second},
	}
	for _, tc := range cases {
		if got := outbox.Backoff(tc.attempt, base, maxDelay, tc.u); got != tc.want {
			t.Errorf("Backoff(%d, u=%v) = %v, want %v", tc.attempt, tc.u, got, tc.want)
		}
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{partnerErr(400, "", 0), true},
		{partnerErr(404, "", 0), true},
		{partnerErr(422, "", 0), true},
		{partnerErr(401, "", 0), false},
		{partnerErr(408, "", 0), false},
		{partnerErr(429, "", 0), false},
		{partnerErr(500, "", 0), false},
		{partnerErr(503, "", 0), false},
		{&partnerhttp.Error{Kind: partnerhttp.KindCircuitOpen}, false},
		{&partnerhttp.Error{Kind: partnerhttp.KindTimeout}, false},
		{&partnerhttp.Error{Kind: partnerhttp.KindRejected}, true},
		{&partnerhttp.Error{Kind: partnerhttp.KindInputTooLarge}, true},
		{&partnerhttp.Error{Kind: partnerhttp.KindInvalidCall}, true},
		{&partnerhttp.Error{Kind: partnerhttp.KindInternal}, false},
		{&partnerhttp.Error{Kind: partnerhttp.KindUnavailable}, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("wrapped: %w", partnerErr(400, "", 0)), true},
	} {
		if got := outbox.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
