package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// CreateQuote stores q (a partner's priced proposal, with its expiry) and appends quote.created.
func (l *Lifecycle) CreateQuote(ctx context.Context, tx store.Tx, q domain.Quote, src Source) (domain.Quote, error) {
	stored, err := tx.CreateQuote(ctx, q)
	if err != nil {
		return domain.Quote{}, fmt.Errorf("lifecycle: create quote: %w", err)
	}
	if src.Partner == "" {
		src.Partner = stored.Partner
	}
	data := map[string]any{
		"quote_id": stored.ID, "kind": string(stored.Kind), "expire_time": stored.ExpireTime.UTC().Format(time.RFC3339Nano),
	}
	putNonEmpty(data, "partner_proposal_id", stored.PartnerProposalID)
	putNonEmpty(data, "customer_id", stored.CustomerID)
	if err := l.appendEvent(ctx, tx, domain.EventQuoteCreated, domain.SubjectQuotes+stored.ID, stored.CustomerID, src, data); err != nil {
		return domain.Quote{}, err
	}
	return stored, nil
}
