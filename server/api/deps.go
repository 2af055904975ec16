package api

import (
	"log/slog"
	"time"

	"github.com/covergate/covergate/server/jobs"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/tokenseal"
)

// Deps is everything the services need. It is built once by server/app.
type Deps struct {
	Store      store.Store
	Etvas      *etvas.Client
	Avata      *avata.Client
	Scalepoint *scalepoint.Client
	Lifecycle  *lifecycle.Lifecycle
	// Jobs wakes the background job worker after a transaction queued a job (nil: no wake-up;
	// the worker still finds the job on its next poll).
	Jobs *jobs.Signal
	// WalletTokens seals the Avata access tokens of customers' wallet sessions at rest.
	WalletTokens *tokenseal.Sealer
	// Ops runs the partner calls with side effects (durable before and after, reconciliation).
	Ops      *partnerops.Ops
	Settings Settings
	Logger   *slog.Logger
	Now      func() time.Time
	// Stopping is closed when the server begins to shut down: long-lived streams (WatchEvents)
	// end then, so that a graceful stop does not wait for them until its deadline.
	Stopping <-chan struct{}
}

// Settings are the service-level knobs of the configuration.
type Settings struct {
	// ScalepointCountry and ScalepointTenant are the default publication destination.
	ScalepointCountry string
	ScalepointTenant  string
	// QuoteTTL is how long a quote can be bought (0 = DefaultQuoteTTL, 15 minutes).
	QuoteTTL time.Duration
	// EtvasCurrency is the currency of Etvas prices, which carry none (empty = EUR).
	EtvasCurrency string
	// WalletSessionTTL is how long a customer's Avata access token is used when its expiry
	// cannot be read from it (0 = DefaultWalletSessionTTL).
	WalletSessionTTL time.Duration
	// WalletNonceTTL is how long a sign-in message can be signed (0 = DefaultWalletNonceTTL).
	WalletNonceTTL time.Duration
}

// Defaults of the wallet sign-in settings.
const (
	DefaultWalletSessionTTL = 15 * time.Minute
	DefaultWalletNonceTTL   = 5 * time.Minute
)

// NewServices builds the services from their dependencies.
func NewServices(d Deps) Services {
	return Services{
		Quotes:     newQuoteService(d),
		Policies:   newPolicyService(d),
		Claims:     newClaimService(d),
		Customers:  newCustomerService(d),
		Events:     newEventService(d),
		Etvas:      newEtvasWebhooks(d),
		Avata:      newAvataWebhooks(d),
		Scalepoint: newScalepointWebhooks(d),
	}
}
