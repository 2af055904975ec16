package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PersonalDataTables are the tables whose rows can hold personal data (or did, before erasure).
var PersonalDataTables = []string{
	"customers", "customer_etvas_contexts", "quotes", "policies", "claims", "claim_documents",
	"inbox", "events", "publications", "idempotency", "personal_refs", "jobs", "wallet_sessions",
	"partner_calls",
}

// Vacuum removes the old row versions PostgreSQL keeps after an UPDATE or DELETE — including
// the versions erasure replaced — from the tables that hold personal data. Plain VACUUM only
// marks dead rows reusable (their bytes stay in the heap file until overwritten); VACUUM FULL
// rewrites each table into a new file and drops the old one. It takes an ACCESS EXCLUSIVE lock
// per table while it runs, so the gateway's writes to that table wait: run it in a quiet hour.
// A CHECKPOINT follows so the rewritten files are what is on disk; WAL segments written before
// it, base backups and replicas' WAL still hold old versions until they are recycled or expire.
func Vacuum(ctx context.Context, dsn string, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `VACUUM (FULL, ANALYZE) `+strings.Join(PersonalDataTables, ", ")); err != nil {
		return fmt.Errorf("postgres: vacuum full: %w", err)
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		// CHECKPOINT needs superuser or pg_checkpoint: the vacuum itself is done.
		if log != nil {
			log.WarnContext(ctx, "vacuumed, but CHECKPOINT was refused (needs superuser or the pg_checkpoint role)", "error", err)
		}
		return nil
	}
	if log != nil {
		log.InfoContext(ctx, "vacuumed", "engine", "postgres", "tables", strings.Join(PersonalDataTables, ","))
	}
	return nil
}
