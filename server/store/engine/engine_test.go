package engine_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		dsn    string
		kind   engine.Kind
		target string
		errHas string
	}{
		{"sqlite:covergate.db", engine.SQLite, "covergate.db", ""},
		{"sqlite:/var/lib/cg/state.db", engine.SQLite, "/var/lib/cg/state.db", ""},
		{"postgres://u@h:5432/db?sslmode=disable", engine.Postgres, "postgres://u@h:5432/db?sslmode=disable", ""},
		{"postgresql://u@h/db", engine.Postgres, "postgresql://u@h/db", ""},
		{"sqlite:", "", "", "no file path"},
		{"mysql://u:secret@h/db", "", "", "accepted: sqlite:PATH"},
		{"covergate.db", "", "", "unsupported database"},
		{"", "", "", "unsupported database"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			kind, target, err := engine.Parse(tt.dsn)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Parse(%q) error = %v, want it to mention %q", tt.dsn, err, tt.errHas)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || kind != tt.kind || target != tt.target {
				t.Fatalf("Parse(%q) = %q, %q, %v", tt.dsn, kind, target, err)
			}
		})
	}
}

func roundTrip(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetCheckpoint(ctx, "engine", "ok")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetCheckpoint(ctx, "engine")
	if err != nil || c.Value != "ok" {
		t.Fatalf("checkpoint %+v, %v", c, err)
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	quiet := slog.New(slog.DiscardHandler)
	if err := engine.Migrate(ctx, dsn, quiet); err != nil {
		t.Fatal(err)
	}
	s, err := engine.Open(ctx, dsn, store.Options{SkipMigrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roundTrip(t, s)
	for _, bad := range []string{"sqlite::memory:", "sqlite:file::memory:", "oracle://x"} {
		if s, err := engine.Open(ctx, bad, store.Options{Logger: quiet}); err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", bad)
		}
	}
}

func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	s, err := engine.Open(ctx, pgtest.FreshDSN(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roundTrip(t, s)
}
