package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/covergate/covergate/server/domain"
)

const walletSessionCols = `customer_id, wallet, chain_id, nonce, nonce_expire_time, token, expire_time, create_time, update_time`

func scanWalletSession(r Rows) (domain.WalletSession, error) {
	var w domain.WalletSession
	err := r.Scan(&w.CustomerID, &w.Wallet, &w.ChainID, &w.Nonce, timeDest{&w.NonceExpireTime}, bytesDest{&w.TokenCiphertext},
		timeDest{&w.ExpireTime}, timeDest{&w.CreateTime}, timeDest{&w.UpdateTime})
	return w, err
}

// GetWalletSession implements store.WalletSessionReader.
func (s *Queries) GetWalletSession(ctx context.Context, customerID string) (domain.WalletSession, error) {
	return getOne(ctx, s, "get wallet session of customer "+customerID, scanWalletSession,
		`SELECT `+walletSessionCols+` FROM wallet_sessions WHERE customer_id = $1`, customerID)
}

// PutWalletSession implements store.WalletSessionStore.
func (s *Queries) PutWalletSession(ctx context.Context, w domain.WalletSession) (domain.WalletSession, error) {
	now := s.now()
	w.Wallet = strings.ToLower(w.Wallet)
	w.CreateTime, w.UpdateTime = now, now
	w.NonceExpireTime, w.ExpireTime = Trunc(w.NonceExpireTime), Trunc(w.ExpireTime)
	var token any // NULL until the sign-in completed
	if w.TokenCiphertext != nil {
		token = w.TokenCiphertext
	}
	_, err := s.q.Exec(ctx, `INSERT INTO wallet_sessions (`+walletSessionCols+`) VALUES (`+placeholders(9)+`)
		ON CONFLICT (customer_id) DO UPDATE SET wallet=excluded.wallet, chain_id=excluded.chain_id,
		nonce=excluded.nonce, nonce_expire_time=excluded.nonce_expire_time, token=excluded.token,
		expire_time=excluded.expire_time, create_time=excluded.create_time, update_time=excluded.update_time`,
		w.CustomerID, w.Wallet, w.ChainID, w.Nonce, s.nts(w.NonceExpireTime), token, s.nts(w.ExpireTime),
		s.ts(w.CreateTime), s.ts(w.UpdateTime))
	if err != nil {
		return w, s.mapWriteErr("put wallet session", err)
	}
	return w, nil
}

// DeleteWalletSession implements store.WalletSessionStore.
func (s *Queries) DeleteWalletSession(ctx context.Context, customerID string) (bool, error) {
	n, err := s.q.Exec(ctx, `DELETE FROM wallet_sessions WHERE customer_id = $1`, customerID)
	if err != nil {
		return false, fmt.Errorf("store: delete wallet session of customer %s: %w", customerID, err)
	}
	return n > 0, nil
}
