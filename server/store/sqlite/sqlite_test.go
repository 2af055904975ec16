package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/sqlite"
	"github.com/covergate/covergate/server/store/storetest"
)

// openTemp opens a fresh database file, migrated from empty.
func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "covergate.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
	})
}

func BenchmarkInboxAndEvent(b *testing.B) {
	storetest.BenchInboxAndEvent(b, openTemp(b))
}
