package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/postgres"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMigrationsFromEmpty(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	quiet := slog.New(slog.DiscardHandler)
	if _, err := postgres.Open(ctx, dsn, store.Options{SkipMigrate: true, Logger: quiet}); err == nil {
		t.Fatal("SkipMigrate opened an empty schema")
	}
	for range 2 { // the second run is a no-op
		if err := postgres.Migrate(ctx, dsn, quiet); err != nil {
			t.Fatal(err)
		}
	}
	s, err := postgres.Open(ctx, dsn, store.Options{SkipMigrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != store.LatestSchemaVersion {
		t.Fatalf("schema version %d, %v", v, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 16 { // 15 domain tables (jobs since 00002, wallet_sessions since 00003, personal_refs since 00005, partner_calls since 00007) + goose_db_version
		t.Fatalf("%d tables after migration", tables)
	}
}

// awaitEvent waits for a wake-up on ch and then checks that replica r sees
// event e; a spurious wake-up just waits again.
func awaitEvent(t *testing.T, ctx context.Context, ch <-chan struct{}, r store.Store, e domain.Event) {
	t.Helper()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("subscription closed")
			}
		case <-ctx.Done():
			t.Fatalf("replica B was not woken for event %d: %v", e.Cursor, ctx.Err())
		}
		page, err := r.ListEvents(ctx, store.EventFilter{AfterCursor: e.Cursor - 1, PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 1 && page.Items[0].ID == e.ID {
			return
		}
	}
}

func appendOne(t *testing.T, ctx context.Context, s store.Store, subject string) domain.Event {
	t.Helper()
	var e domain.Event
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		e, err = tx.AppendEvent(ctx, domain.Event{Type: "test.replicated", Subject: subject})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNotifyAcrossReplicas: a commit on replica A wakes a watcher on replica
// B through LISTEN/NOTIFY, also after B's listener connection was killed.
func TestNotifyAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := freshSchema(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	ch, unsubscribe := b.Subscribe(ctx)
	defer unsubscribe()
	// Several rounds: at most one wake-up can be the listener's
	// connect-time catch-up signal, the rest must be NOTIFYs.
	for i := range 3 {
		awaitEvent(t, ctx, ch, b, appendOne(t, ctx, a, "round/"+string(rune('a'+i))))
	}

	// Kill B's (and A's) listener connections; they must reconnect.
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Only this test's listeners: the LISTEN statement names this schema's channel.
	var schema string
	if err := admin.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var killed int
	err = admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query = $2`, postgres.ListenerApplicationName,
		`LISTEN "covergate_events_`+schema+`"`).Scan(&killed)
	if err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("terminated %d listener connections, want 2 (A and B)", killed)
	}
	for i := range 3 {
		awaitEvent(t, ctx, ch, b, appendOne(t, ctx, a, "after-kill/"+string(rune('a'+i))))
	}
}

// TestRetryOnDeadlock makes two transactions lock two rows in opposite
// order. PostgreSQL aborts one with deadlock_detected; InTx must re-run it so
// both complete.
func TestRetryOnDeadlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := openDSN(t, freshSchema(t))
	for _, n := range []string{"a", "b"} {
		if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.SetCheckpoint(ctx, n, "0"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	first := make(chan struct{}, 2)
	proceed := make(chan struct{})
	runs := make(chan string, 10)
	run := func(x, y string) error {
		attempt := 0
		return s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			attempt++
			runs <- x
			if _, err := tx.SetCheckpoint(ctx, x, "1"); err != nil {
				return err
			}
			if attempt == 1 {
				first <- struct{}{}
				<-proceed // both hold their first row lock now
			}
			_, err := tx.SetCheckpoint(ctx, y, "1")
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run("a", "b") }()
	go func() { errs <- run("b", "a") }()
	<-first
	<-first
	close(proceed)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("transaction was not retried: %v", err)
		}
	}
	close(runs)
	n := 0
	for range runs {
		n++
	}
	if n < 3 {
		t.Fatalf("%d attempts; a deadlock victim must have been re-run", n)
	}
}
