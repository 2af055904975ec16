package app

import (
	"flag"
	"log/slog"

	"github.com/covergate/covergate/server/tokenseal"
)

// Customers' wallet sign-in with Avata: the key that seals their access tokens at rest and the
// lifetimes of sign-in messages and tokens.

func (cfg *Config) registerWalletFlags(fs *flag.FlagSet) {
	fs.StringVar(&cfg.WalletTokenKey, "wallet-token-key", cfg.WalletTokenKey,
		"AES-256 key (64 hex digits or base64) sealing customers' Avata access tokens in the store; empty = a random key per process (sessions end on restart and are not shared by replicas)")
	fs.DurationVar(&cfg.WalletSessionTTL, "wallet-session-ttl", cfg.WalletSessionTTL,
		"lifetime of a customer's Avata access token whose expiry cannot be read from it (0 = 15m)")
	fs.DurationVar(&cfg.WalletNonceTTL, "wallet-nonce-ttl", cfg.WalletNonceTTL,
		"how long a customer may take to sign the wallet sign-in message (0 = 5m)")
}

func (cfg Config) validateWallet() []string {
	var problems []string
	if cfg.WalletTokenKey != "" {
		if _, err := tokenseal.ParseKey(cfg.WalletTokenKey); err != nil {
			problems = append(problems, "wallet-token-key: "+err.Error())
		}
	}
	if cfg.WalletSessionTTL < 0 {
		problems = append(problems, "wallet-session-ttl must not be negative")
	}
	if cfg.WalletNonceTTL < 0 {
		problems = append(problems, "wallet-nonce-ttl must not be negative")
	}
	return problems
}

// walletTokenSealer builds the sealer from the configured key, or from a random one (logged as
// a warning outside sandbox mode: sessions then end with the process).
func walletTokenSealer(cfg Config, log *slog.Logger) (*tokenseal.Sealer, error) {
	if cfg.WalletTokenKey == "" {
		if cfg.Partners.Mode == PartnersLive {
			log.Warn("no wallet-token-key configured: customers' wallet sessions end when this process stops and are not shared between replicas")
		}
		return tokenseal.New(tokenseal.RandomKey())
	}
	key, err := tokenseal.ParseKey(cfg.WalletTokenKey)
	if err != nil {
		return nil, err
	}
	return tokenseal.New(key)
}
