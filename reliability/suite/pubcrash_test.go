//go:build reliability

package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/reliability/figures"
	"github.com/covergate/covergate/reliability/gatewayproc"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

// pubCrashLease is the gateway's --outbox-lease here: what a killed process had in flight is
// sent again once it passes, so it bounds how long the test waits after each restart.
const pubCrashLease = 3 * time.Second

// TestPublicationCrash: a burst of publications is being delivered to Scalepoint (the sandbox,
// in its own process so it outlives the gateway) when the gateway is SIGKILLed mid-burst, twice,
// and restarted. Every publication reaches Scalepoint and is DELIVERED in the store; the ones
// sent twice — accepted by Scalepoint, but the process died before DELIVERED was committed —
// are at most the publications in flight at each kill (one per kill: one delivery at a time),
// and a repeat carries the same correlationId and body, so Scalepoint can recognize it. The
// figure is measured on both engines from Scalepoint's own journal.
func TestPublicationCrash(t *testing.T) {
	engines := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "covergate.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.FreshDSN(t) }},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { runPublicationCrash(t, e.name, e.dsn(t)) })
	}
}

func runPublicationCrash(t *testing.T, engineName, dsn string) {
	n := figures.Pick(3000, 800)
	gw := gatewayproc.Start(t, gatewayproc.Options{Binary: gatewayBinary, Database: dsn, Dir: t.TempDir(), SeparateSandbox: true,
		Extra: []string{"--outbox-lease", pubCrashLease.String()}})
	scalepointURL := "http://" + gw.Addrs.Scalepoint
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The burst: n publications committed together (as a batch job or a burst of claim updates
	// would queue them), so the worker has a full queue in front of it from the first kill on.
	correlations := queueBurst(t, ctx, dsn, n)

	var killedAt []int
	for _, target := range []int{n / 3, 2 * n / 3} { // kill at a third and two thirds of the deliveries
		for len(published(t, ctx, scalepointURL)) < target {
			if ctx.Err() != nil {
				t.Fatal("deliveries stalled before the kill point")
			}
			time.Sleep(2 * time.Millisecond)
		}
		at := len(published(t, ctx, scalepointURL))
		if err := gw.Kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		if at >= n {
			t.Fatalf("killed after all %d were delivered: not mid-burst", n)
		}
		killedAt = append(killedAt, at)
		if err := gw.Restart(); err != nil {
			t.Fatalf("restart: %v", err)
		}
	}
	// Drain: every publication DELIVERED (the store) and received (Scalepoint).
	var pubs []sandboxPublication
	for {
		pubs = published(t, ctx, scalepointURL)
		if distinct(pubs) >= n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d publications reached Scalepoint", distinct(pubs), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := gw.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stats := outboxStats(t, dsn)
	if stats.Delivered != int64(n) || stats.Pending != 0 || stats.Failed != 0 {
		t.Fatalf("outbox after the drain: %+v, want %d delivered", stats, n)
	}

	byCorrelation := map[string][]sandboxPublication{}
	for _, p := range pubs {
		byCorrelation[p.CorrelationID] = append(byCorrelation[p.CorrelationID], p)
	}
	sentTwice, unknown := 0, 0
	for c, ps := range byCorrelation {
		if !correlations[c] {
			unknown++
			continue
		}
		sentTwice += len(ps) - 1
		for _, p := range ps[1:] {
			if !bytes.Equal(p.Payload, ps[0].Payload) {
				t.Errorf("publication %s was re-sent with another body:\n%s\n%s", c, ps[0].Payload, p.Payload)
			}
		}
	}
	if unknown > 0 || len(byCorrelation) != n {
		t.Errorf("Scalepoint holds %d distinct publications (%d unknown), we queued %d", len(byCorrelation), unknown, n)
	}
	// One delivery at a time per replica: a kill can catch at most one publication between the
	// partner's 2xx and our commit.
	if bound := len(killedAt); sentTwice > bound {
		t.Errorf("%d publications sent twice after %d kills, want at most %d (the ones in flight)", sentTwice, len(killedAt), bound)
	}
	suite := "pubcrash/" + engineName
	figures.Record(t, suite, "publications received by Scalepoint and DELIVERED", "all", "%d / %d", len(byCorrelation)-unknown, n)
	figures.Record(t, suite, "sent twice / total (2 SIGKILLs mid-burst)", "≤ in flight (2)", "%d / %d", sentTwice, n)
	figures.Record(t, suite, "delivered at each kill", "", "%s", joinInts(toInt64(killedAt)))
}

// sandboxPublication is what the Scalepoint sandbox journal keeps of an accepted publication.
type sandboxPublication struct {
	CorrelationID string          `json:"correlationId"`
	Payload       json.RawMessage `json:"payload"`
}

// queueBurst enqueues n Scalepoint publications for the sandbox tenant in one transaction,
// each with its envelope and a fresh correlation id, and returns the correlation ids.
func queueBurst(t *testing.T, ctx context.Context, dsn string, n int) map[string]bool {
	t.Helper()
	st, err := engine.Open(ctx, dsn, store.Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	correlations := make(map[string]bool, n)
	err = st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		clear(correlations)
		for i := range n {
			correlation := uuid.NewString()
			body, err := domain.ScalepointEnvelope("case_created", "1.0.0", correlation, time.Now(),
				map[string]json.RawMessage{"case": json.RawMessage(fmt.Sprintf(`{"number":"PUB-%06d"}`, i))})
			if err != nil {
				return err
			}
			if _, err := tx.EnqueuePublication(ctx, domain.Publication{
				Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "covergate"},
				EventType:   "case_created", CorrelationID: correlation, Payload: body,
			}); err != nil {
				return err
			}
			correlations[correlation] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("queue the burst: %v", err)
	}
	return correlations
}

func published(t *testing.T, ctx context.Context, base string) []sandboxPublication {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sandbox/published", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sandbox journal: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Published []sandboxPublication `json:"published"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("sandbox journal: %v", err)
	}
	return out.Published
}

func distinct(ps []sandboxPublication) int {
	seen := map[string]bool{}
	for _, p := range ps {
		seen[p.CorrelationID] = true
	}
	return len(seen)
}

func outboxStats(t *testing.T, dsn string) store.OutboxStats {
	t.Helper()
	st, err := engine.Open(context.Background(), dsn, store.Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	stats, err := st.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
