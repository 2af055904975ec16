// Package engine opens the store engine named by a --database DSN. It lives
// apart from package store so that the engines can import store's interfaces
// without an import cycle.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/postgres"
	"github.com/covergate/covergate/server/store/sqlite"
)

// DefaultDSN is the --database default.
const DefaultDSN = "sqlite:covergate.db"

// Accepted describes the accepted DSN forms for error messages and --help.
const Accepted = "sqlite:PATH (a file, e.g. sqlite:covergate.db) or postgres://USER@HOST:PORT/DB?sslmode=... (also postgresql://)"

// Kind is a storage engine.
type Kind string

// Engines.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Parse splits a DSN into its engine and the engine-specific target (the
// file path for SQLite, the full URL for PostgreSQL).
func Parse(dsn string) (Kind, string, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return "", "", fmt.Errorf("store: %q has no file path; accepted: %s", dsn, Accepted)
		}
		return SQLite, path, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	}
	return "", "", fmt.Errorf("store: unsupported database %q; accepted: %s", redact(dsn), Accepted)
}

// redact keeps a password in a mistyped DSN out of error messages and logs.
func redact(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return scheme + "://***@" + rest[at+1:]
		}
	}
	return dsn
}

// Open opens the store named by dsn and applies migrations unless
// opts.SkipMigrate.
func Open(ctx context.Context, dsn string, opts store.Options) (store.Store, error) {
	kind, target, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	switch kind {
	case SQLite:
		s, err := sqlite.Open(ctx, target, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	case Postgres:
		s, err := postgres.Open(ctx, target, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("store: engine %q not handled", kind)
}

// Migrate applies pending migrations (used by `covergate migrate`).
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	kind, target, err := Parse(dsn)
	if err != nil {
		return err
	}
	switch kind {
	case SQLite:
		return sqlite.Migrate(ctx, target, log)
	case Postgres:
		return postgres.Migrate(ctx, target, log)
	}
	return fmt.Errorf("store: engine %q not handled", kind)
}

// Vacuum physically removes old row versions and free space that may still hold erased
// personal data (SQLite: VACUUM and WAL truncation; PostgreSQL: VACUUM FULL of the tables that
// hold personal data, then CHECKPOINT). `covergate maintenance vacuum` runs it.
func Vacuum(ctx context.Context, dsn string, log *slog.Logger) error {
	kind, target, err := Parse(dsn)
	if err != nil {
		return err
	}
	switch kind {
	case SQLite:
		return sqlite.Vacuum(ctx, target, log)
	case Postgres:
		return postgres.Vacuum(ctx, target, log)
	}
	return fmt.Errorf("store: engine %q not handled", kind)
}
