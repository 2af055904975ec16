package app

import (
	"context"
	"net/http"

	"google.golang.org/grpc/metadata"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/interceptor"
	"github.com/covergate/covergate/server/scalepointpoll"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/supervise"
	"github.com/covergate/covergate/server/webhook"
)

// The partner-webhook wiring: authentication of partner calls over the raw body, the
// verified-delivery channel to the gRPC side, and the Scalepoint long-poll consumer.

// webhookWiring holds what the webhook parts share (built once, used by HTTP and gRPC).
type webhookWiring struct {
	registry *webhook.Registry
	verifier *webhook.Verifier
	guard    *webhook.Guard
	commit   *webhook.GroupCommit // batches the webhook services' transactions
}

// webhookParts builds the wiring on first use: buildGRPC (guards) runs before buildHTTP
// (middleware), and both must share one registry. New runs on one goroutine, so no lock.
func (a *App) webhookParts() *webhookWiring {
	if a.webhooks.registry == nil {
		reg := webhook.NewRegistry()
		var observe webhook.Observer
		if a.metrics != nil {
			observe = func(p domain.Partner, eventType, outcome string) {
				a.metrics.WebhookDelivery(string(p), eventType, outcome)
			}
		}
		a.webhooks = webhookWiring{
			registry: reg,
			verifier: webhook.NewVerifier(a.verifierConfig(observe), reg),
			guard:    webhook.NewGuard(reg, observe),
		}
	}
	return &a.webhooks
}

// verifierConfig is the partners' webhook authentication: the configured secrets and switches,
// the body limit, and Etvas's verify-token for portal events that come without x-api-key.
func (a *App) verifierConfig(observe webhook.Observer) webhook.Config {
	wc := a.partners.Config.webhookConfig() // effective: sandbox defaults filled in
	wc.EtvasWindow = a.cfg.EtvasTimestampWindow
	wc.MaxBodyBytes = a.cfg.MaxBodyBytes
	wc.Now = a.now
	wc.Observe = observe
	if etvasClient := a.partners.Etvas; etvasClient != nil {
		wc.EtvasVerifyToken = func(ctx context.Context, token string) error {
			_, err := etvasClient.VerifyToken(ctx, token)
			return err
		}
	}
	return wc
}

// webhookDeps are the webhook services' dependencies: the store behind group commit, so that
// concurrent deliveries share a transaction and its fsync. SQLite has one writer, so one batch
// at a time; PostgreSQL runs a few, so one batch executes while another commits (4: pgx's
// default pool size here, leaving reads a connection while batches wait for theirs).
func (a *App) webhookDeps() api.Deps {
	committers := 1
	if kind, _, err := engine.Parse(a.cfg.Database); err == nil && kind == engine.Postgres {
		committers = 4
	}
	// Through webhookParts: its first call replaces a.webhooks whole, which would drop (and
	// never Close) a committer set here before it.
	w := a.webhookParts()
	w.commit = webhook.NewGroupCommit(a.store, webhook.GroupCommitConfig{Committers: committers})
	d := a.deps()
	d.Store = w.commit
	return d
}

func (a *App) webhookGuards() []interceptor.Authorizer {
	return []interceptor.Authorizer{a.webhookParts().guard}
}

func (a *App) webhookAuth() func(http.Handler) http.Handler {
	return a.webhookParts().verifier.Middleware
}

func (a *App) webhookMetadata() func(context.Context, *http.Request) metadata.MD {
	return webhook.Metadata
}

// webhookBackground watches the group committers and runs the Scalepoint long-poll consumer
// when --scalepoint-poll is set.
func (a *App) webhookBackground() []supervise.Worker {
	var workers []supervise.Worker
	if commit := a.webhooks.commit; commit != nil {
		// The committers cannot be restarted under waiting deliveries: a dead one is fatal.
		workers = append(workers, supervise.Worker{Name: "webhook-group-commit", Run: func(ctx context.Context) error {
			return supervise.Permanent(commit.Watch(ctx))
		}})
	}
	if !a.partners.Config.ScalepointPoll {
		return workers
	}
	events := api.NewScalepointEvents(a.deps())
	consumer, err := scalepointpoll.New(scalepointpoll.Config{
		Client:  a.partners.Scalepoint,
		Store:   a.store,
		Process: events.ProcessPolled,
		Logger:  a.log.With("component", "scalepoint-poll"),
	})
	if err != nil {
		// Every field is set above; a failure here is a programming error worth stopping for.
		return append(workers, supervise.Worker{Name: "scalepoint-poll", Run: func(context.Context) error { return supervise.Permanent(err) }})
	}
	return append(workers, supervise.Worker{Name: "scalepoint-poll", Run: consumer.Run})
}
