// Package violation is the fixture of TestStoreWriteCheckerFindsViolations: a handler package
// that writes to the store itself. It is only type-checked by the test, never built.
package violation

import (
	"context"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// commands has a method named like a store write: calling it is not a store write.
type commands struct{}

func (commands) CreateQuote(ctx context.Context, q domain.Quote) (domain.Quote, error) { return q, nil }

type handler struct {
	st  store.Store
	cmd commands
}

func (h handler) handle(ctx context.Context) error {
	if _, err := h.st.GetCustomer(ctx, "c"); err != nil { // a read outside a transaction: allowed
		return err
	}
	if _, err := h.cmd.CreateQuote(ctx, domain.Quote{}); err != nil { // not the store's method: allowed
		return err
	}
	return h.st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.GetQuote(ctx, "q"); err != nil { // a read in a transaction: allowed
			return err
		}
		_, err := tx.AppendEvent(ctx, domain.Event{}) // VIOLATION AppendEvent
		if err != nil {
			return err
		}
		put := tx.PutWalletSession // VIOLATION PutWalletSession (a method value is a write too)
		_, err = put(ctx, domain.WalletSession{})
		return err
	})
}

// outbox narrows the store to one role; its write is still a store write.
func enqueue(ctx context.Context, o store.Outbox) error {
	_, err := o.EnqueuePublication(ctx, domain.Publication{}) // VIOLATION EnqueuePublication
	return err
}
