package app

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/idempotency"
	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/supervise"
)

// The internal-API wiring: idempotency keys, the outbox delivery workers, and the claim routing
// rule that publishes claim status changes to Scalepoint.

// idempotencySweepInterval is how often expired idempotency keys are deleted.
const idempotencySweepInterval = 5 * time.Minute

// flowWiring holds what the internal-API parts share.
type flowWiring struct {
	idem *idempotency.Interceptor
	ops  *partnerops.Ops // partner calls with side effects; nil without an Avata client
}

// buildOps builds the runner of partner calls with side effects (durable before and after).
func (a *App) buildOps() error {
	if a.partners.Avata == nil {
		return nil
	}
	ops, err := partnerops.New(partnerops.Config{
		Store: a.store, Lifecycle: a.lifecycle, Avata: a.partners.Avata, Logger: a.log.With("component", "partnerops"),
		Now: time.Now, CallTimeout: a.cfg.PartnerCallTimeout,
		// The reconciler signs for a policy bought to a customer's own wallet with that
		// customer's wallet session, exactly as the API would (never with the merchant wallet).
		CustomerWallet: func(ctx context.Context, customerID, wallet string) (avata.Wallet, error) {
			return a.deps().CustomerWallet(ctx, customerID, wallet)
		},
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.flows.ops = ops
	return nil
}

// registerFlowFlags binds the flags of the internal-API flows.
func (cfg *Config) registerFlowFlags(fs *flag.FlagSet) {
	fs.DurationVar(&cfg.QuoteTTL, "quote-ttl", cfg.QuoteTTL, "how long a quote can be bought (0 = 15m)")
	fs.DurationVar(&cfg.IdempotencyLease, "idempotency-lease", cfg.IdempotencyLease,
		"how long an Idempotency-Key in progress stays held without renewal (renewed while the request runs); a retry after a crash runs once it has passed")
	fs.DurationVar(&cfg.OutboxLease, "outbox-lease", cfg.OutboxLease,
		"how long a publication being delivered is reserved; after a crash, what was in flight is sent again once it passes")
	fs.DurationVar(&cfg.PartnerCallTimeout, "partner-call-timeout", cfg.PartnerCallTimeout,
		"budget of one partner call with a side effect (confirm, activate, claim, KYC); it runs detached from the caller's deadline")
	fs.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", cfg.ReconcileInterval,
		"how often partner calls whose outcome is unknown (timeout, crash) are resolved through the partner's status calls")
	fs.BoolVar(&cfg.PublishClaimUpdates, "publish-claim-updates", cfg.PublishClaimUpdates,
		"publish every claim status change to Scalepoint (event claim_updated, to scalepoint-country/scalepoint-tenant) through the outbox")
}

func (cfg Config) validateFlows() []string {
	var problems []string
	if cfg.QuoteTTL < 0 {
		problems = append(problems, "quote-ttl must not be negative")
	}
	if cfg.OutboxLease < 2*time.Second || cfg.OutboxLease > 10*time.Minute {
		problems = append(problems, "outbox-lease must be between 2s and 10m")
	}
	if cfg.IdempotencyLease < time.Second || cfg.IdempotencyLease > time.Hour {
		problems = append(problems, "idempotency-lease must be between 1s and 1h")
	}
	if cfg.PartnerCallTimeout < 0 {
		problems = append(problems, "partner-call-timeout must not be negative")
	}
	if cfg.ReconcileInterval < 0 {
		problems = append(problems, "reconcile-interval must not be negative")
	}
	return problems
}

// claimRoute is the lifecycle's claim routing rule: with --publish-claim-updates every claim
// change is queued for the configured Scalepoint destination in the transaction that makes it.
func (a *App) claimRoute() *domain.Destination {
	pc := a.partners.Config
	if !a.cfg.PublishClaimUpdates || pc.ScalepointCountry == "" || pc.ScalepointTenant == "" {
		return nil
	}
	return &domain.Destination{Partner: domain.PartnerScalepoint, Country: pc.ScalepointCountry, Tenant: pc.ScalepointTenant}
}

func (a *App) flowUnaryInterceptors() []grpc.UnaryServerInterceptor {
	idem, err := idempotency.New(idempotency.Config{Store: a.store, Lease: a.cfg.IdempotencyLease, Logger: a.log.With("component", "idempotency")})
	if err != nil {
		// The registry is compiled in: failing here means the contract lost every mutating
		// method, which no configuration can cause. Refuse to serve rather than serve without.
		panic(fmt.Sprintf("app: %v", err))
	}
	a.flows.idem = idem
	return []grpc.UnaryServerInterceptor{idem.Unary()}
}

func (a *App) flowBackground() []supervise.Worker {
	worker := &outbox.Worker{
		Store:     a.store,
		Publisher: a.partners.Scalepoint,
		Owner:     "covergate-" + uuid.NewString(),
		Lease:     a.cfg.OutboxLease,
		// One delivery at a time keeps Scalepoint receiving a replica's events in queue order
		// (a claim's CREATED → … → APPROVED updates arrive in that order unless one is retried).
		Concurrency: 1,
		Logger:      a.log.With("component", "outbox"),
	}
	if a.metrics != nil {
		worker.Observe = a.metrics.OutboxAttempt
	}
	sweepLog := a.log.With("component", "idempotency")
	workers := []supervise.Worker{
		{Name: "outbox", Run: worker.Run},
		{Name: "idempotency-sweep", Run: func(ctx context.Context) error {
			return idempotency.Sweep(ctx, a.store, idempotencySweepInterval, time.Now, sweepLog)
		}},
	}
	if a.flows.ops != nil {
		// Resolves partner calls whose outcome is unknown (timeout, crash between the partner's
		// yes and our commit). Stopped with the other workers, after shutdown has waited for the
		// calls Ops runs for callers that left (see shutdown).
		rec := &partnerops.Reconciler{Ops: a.flows.ops, Interval: a.cfg.ReconcileInterval, Logger: a.log.With("component", "reconciler")}
		workers = append(workers, supervise.Worker{Name: "partner-reconciler", Run: rec.Run})
	}
	return workers
}
