package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/bench/gatewayproc"
	"github.com/covergate/covergate/server/domain"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// outboxRun is one delivery of the whole queue.
type outboxRun struct {
	Publications  int
	Elapsed       time.Duration
	Throughput    float64
	TokenRequests int
}

// enqueuePublications queues n Scalepoint publications (as PublishEvent would) in a fresh,
// migrated database.
func enqueuePublications(ctx context.Context, dsn string, n int) error {
	st, err := engine.Open(ctx, dsn, store.Options{})
	if err != nil {
		return fmt.Errorf("outbox: open store: %w", err)
	}
	defer st.Close()
	dest := domain.Destination{Partner: domain.PartnerScalepoint, Country: scalepointbox.DefaultCountry, Tenant: scalepointbox.DefaultTenant}
	const perTx = 500
	for start := 0; start < n; start += perTx {
		err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := start; i < min(n, start+perTx); i++ {
				corr := uuid.NewString()
				payload := fmt.Appendf(nil, `{"eventType":"case_created","payloadVersion":"1.0.0","correlationId":%q,"timestamp":%q,"case":{"caseNumber":"BENCH-%d"}}`,
					corr, time.Now().UTC().Format(time.RFC3339Nano), i)
				if _, err := tx.EnqueuePublication(ctx, domain.Publication{Destination: dest, EventType: "case_created", CorrelationID: corr, Payload: payload}); err != nil {
					return fmt.Errorf("outbox: enqueue %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// benchOutbox queues the publications before the gateway starts, then times the gateway's own
// outbox worker from ready until every publication is DELIVERED (polled through a second store
// handle every 50 ms), and reads how many token requests the Scalepoint sandbox saw.
func benchOutbox(ctx context.Context, env *env, rep *report) error {
	for round := range env.outboxRuns {
		dir := filepath.Join(env.work, fmt.Sprintf("outbox-%d", round))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		dsn := "sqlite:" + filepath.Join(dir, "covergate.db")
		env.logf("outbox: queueing %d publications", env.publications)
		if err := enqueuePublications(ctx, dsn, env.publications); err != nil {
			return err
		}
		run, err := deliverAll(ctx, env, dsn, dir, rep)
		if err != nil {
			return err
		}
		env.logf("outbox round %d: %d delivered in %s = %.0f/s, %d token requests", round+1, run.Publications, run.Elapsed.Round(time.Millisecond), run.Throughput, run.TokenRequests)
		rep.outbox = append(rep.outbox, run)
	}
	return nil
}

func deliverAll(ctx context.Context, env *env, dsn, dir string, rep *report) (outboxRun, error) {
	gw, err := gatewayproc.StartGateway(ctx, gatewayproc.Options{Binary: env.gateway, Database: dsn, LogDir: dir})
	if err != nil {
		return outboxRun{}, err
	}
	defer env.stop(gw)
	st, err := engine.Open(ctx, dsn, store.Options{SkipMigrate: true})
	if err != nil {
		return outboxRun{}, fmt.Errorf("outbox: open store: %w", err)
	}
	defer st.Close()
	limit := time.Now().Add(5 * time.Minute)
	for {
		stats, err := st.OutboxStats(ctx)
		if err != nil {
			return outboxRun{}, err
		}
		delivered := int(stats.Delivered)
		if delivered >= env.publications {
			break
		}
		if stats.Failed > 0 {
			return outboxRun{}, fmt.Errorf("outbox: %d publications FAILED", stats.Failed)
		}
		if time.Now().After(limit) {
			return outboxRun{}, fmt.Errorf("outbox: only %d of %d delivered after 5 minutes", delivered, env.publications)
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(gw.Ready)
	tokens, err := tokenRequests(ctx, gw.ScalepointURL)
	if err != nil {
		return outboxRun{}, err
	}
	rep.notePeak(gw.PID())
	return outboxRun{Publications: env.publications, Elapsed: elapsed, Throughput: float64(env.publications) / elapsed.Seconds(), TokenRequests: tokens}, nil
}

// tokenRequests reads the Scalepoint sandbox's count of OAuth2 token requests.
func tokenRequests(ctx context.Context, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sandbox/stats", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("outbox: sandbox stats: %w", err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return 0, fmt.Errorf("outbox: decode sandbox stats: %w", err)
	}
	for _, k := range []string{"tokenRequests", "token_requests", "TokenRequests"} {
		if v, ok := stats[k].(float64); ok {
			return int(v), nil
		}
	}
	return 0, fmt.Errorf("outbox: sandbox stats without a token request count: %v", stats)
}
