package engine_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

// TestVacuum runs `covergate maintenance vacuum`'s code on both engines after an erasure. On
// PostgreSQL VACUUM FULL must have rewritten the customers table into a new file (the old file,
// holding the erased row versions, is gone).
func TestVacuum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	pg := pgtest.FreshDSN(t)
	for _, dsn := range []string{"sqlite:" + filepath.Join(t.TempDir(), "v.db"), pg} {
		s, err := engine.Open(ctx, dsn, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.CreateCustomer(ctx, domain.Customer{Profile: domain.Profile{Email: "vacuum.me@example.com"}})
			if err != nil {
				return err
			}
			_, err = tx.EraseCustomer(ctx, c.ID, time.Now())
			return err
		})
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		var before uint32
		if dsn == pg {
			before = filenode(t, ctx, pg)
		}
		if err := engine.Vacuum(ctx, dsn, quiet); err != nil {
			t.Fatalf("vacuum %s: %v", dsn, err)
		}
		if dsn == pg {
			if after := filenode(t, ctx, pg); after == before {
				t.Fatalf("customers still in file node %d after VACUUM FULL", after)
			}
		}
	}
	if err := engine.Vacuum(ctx, "mysql://nope", quiet); err == nil {
		t.Fatal("vacuum of an unsupported DSN succeeded")
	}
}

func filenode(t *testing.T, ctx context.Context, dsn string) uint32 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n uint32
	if err := conn.QueryRow(ctx, `SELECT pg_relation_filenode('customers')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
