package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Wallet sessions: a customer's sign-in with their own wallet (the pending sign-in message, then
// the sealed Avata access token). The session row holds no event-worthy business state (a
// token is a credential, not a change of customer, policy or claim), so these commands append
// no events; linking the wallet to the customer does (LinkAvataWallet, customer.updated).

// ErrCustomerErased is returned by a command that cannot apply to an erased customer.
var ErrCustomerErased = errors.New("lifecycle: the customer has been erased")

// StartWalletSignIn stores next as the customer's pending sign-in (its Nonce and
// NonceExpireTime). A live session of the same wallet and chain keeps its token, so it stays
// usable until the sign-in completes.
func (l *Lifecycle) StartWalletSignIn(ctx context.Context, tx store.Tx, next domain.WalletSession) (domain.WalletSession, error) {
	prev, err := tx.GetWalletSession(ctx, next.CustomerID)
	switch {
	case err == nil && prev.Wallet == strings.ToLower(next.Wallet) && prev.ChainID == next.ChainID:
		next.TokenCiphertext, next.ExpireTime = prev.TokenCiphertext, prev.ExpireTime
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return domain.WalletSession{}, fmt.Errorf("lifecycle: wallet session of customer %s: %w", next.CustomerID, err)
	}
	sess, err := tx.PutWalletSession(ctx, next)
	if err != nil {
		return domain.WalletSession{}, fmt.Errorf("lifecycle: start wallet sign-in of customer %s: %w", next.CustomerID, err)
	}
	return sess, nil
}

// CompleteWalletSignIn stores sess (the sealed token of a completed sign-in) as the customer's
// session and links its wallet to the customer (LinkAvataWallet: customer.updated when new; a
// wallet of another customer is store.ErrConflict). An erased customer is ErrCustomerErased.
func (l *Lifecycle) CompleteWalletSignIn(ctx context.Context, tx store.Tx, sess domain.WalletSession, src Source) (domain.WalletSession, error) {
	c, err := tx.GetCustomer(ctx, sess.CustomerID)
	if err != nil {
		return domain.WalletSession{}, fmt.Errorf("lifecycle: complete wallet sign-in of customer %s: %w", sess.CustomerID, err)
	}
	if c.Status == domain.CustomerErased {
		return domain.WalletSession{}, fmt.Errorf("lifecycle: complete wallet sign-in of customer %s: %w", c.ID, ErrCustomerErased)
	}
	if _, err := l.LinkAvataWallet(ctx, tx, c, sess.Wallet, src); err != nil {
		return domain.WalletSession{}, err
	}
	stored, err := tx.PutWalletSession(ctx, sess)
	if err != nil {
		return domain.WalletSession{}, fmt.Errorf("lifecycle: complete wallet sign-in of customer %s: %w", c.ID, err)
	}
	return stored, nil
}

// ForgetWalletSignIn drops the pending sign-in message of pending (the partner no longer accepts
// it); the session's token, if any, is kept.
func (l *Lifecycle) ForgetWalletSignIn(ctx context.Context, tx store.Tx, pending domain.WalletSession) error {
	pending.Nonce, pending.NonceExpireTime = "", time.Time{}
	if _, err := tx.PutWalletSession(ctx, pending); err != nil {
		return fmt.Errorf("lifecycle: forget wallet sign-in of customer %s: %w", pending.CustomerID, err)
	}
	return nil
}

// ExpireWalletSession marks the customer's session expired as of now (the partner refused its
// token) and drops the token. No session is store.ErrNotFound.
func (l *Lifecycle) ExpireWalletSession(ctx context.Context, tx store.Tx, customerID string, now time.Time) error {
	sess, err := tx.GetWalletSession(ctx, customerID)
	if err != nil {
		return fmt.Errorf("lifecycle: expire wallet session of customer %s: %w", customerID, err)
	}
	if sess.ExpireTime.IsZero() || sess.ExpireTime.After(now) {
		sess.ExpireTime = now
	}
	sess.TokenCiphertext = nil
	if _, err := tx.PutWalletSession(ctx, sess); err != nil {
		return fmt.Errorf("lifecycle: expire wallet session of customer %s: %w", customerID, err)
	}
	return nil
}

// DeleteWalletSession signs the customer's wallet out (deleted reports whether there was a
// session).
func (l *Lifecycle) DeleteWalletSession(ctx context.Context, tx store.Tx, customerID string) (bool, error) {
	deleted, err := tx.DeleteWalletSession(ctx, customerID)
	if err != nil {
		return false, fmt.Errorf("lifecycle: delete wallet session of customer %s: %w", customerID, err)
	}
	return deleted, nil
}
