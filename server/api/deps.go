package api

import (
	"log/slog"
	"time"

	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// Deps is everything the services need. It is built once by server/app.
type Deps struct {
	Store      store.Store
	Etvas      *etvas.Client
	Avata      *avata.Client
	Scalepoint *scalepoint.Client
	Lifecycle  *lifecycle.Lifecycle
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
}

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
