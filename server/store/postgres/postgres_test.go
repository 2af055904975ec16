package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/pgtest"
	"github.com/covergate/covergate/server/store/postgres"
	"github.com/covergate/covergate/server/store/storetest"
)

func freshSchema(t testing.TB) string { return pgtest.FreshDSN(t) }

func openDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, freshSchema(t)) })
	})
}

func BenchmarkInboxAndEvent(b *testing.B) {
	storetest.BenchInboxAndEvent(b, openDSN(b, freshSchema(b)))
}
