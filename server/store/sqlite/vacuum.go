package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

// Vacuum rebuilds the database file and empties its WAL, so no free page, page slack or old
// WAL frame still holds erased data. Erasure already zeroes what it deletes (secure_delete) and
// truncates the WAL; this is for an operator who wants the file rewritten after the fact (for
// example after restoring an old backup and erasing again). It may run while the gateway serves:
// it waits for the write lock like any writer.
func Vacuum(ctx context.Context, path string, log *slog.Logger) error {
	if err := checkPath(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{`VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlite: %s: %w", stmt, err)
		}
	}
	if log != nil {
		log.InfoContext(ctx, "vacuumed", "engine", "sqlite")
	}
	return nil
}
