package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func quiet() store.Options { return store.Options{Logger: slog.New(slog.DiscardHandler)} }

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	tests := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.writer, "journal_mode", "wal"},
		{s.writer, "synchronous", "2"}, // FULL
		{s.writer, "foreign_keys", "1"},
		{s.writer, "busy_timeout", "10000"},
		{s.writer, "secure_delete", "1"},
		{s.writer, "query_only", "0"},
		{s.reader, "journal_mode", "wal"},
		{s.reader, "synchronous", "2"},
		{s.reader, "foreign_keys", "1"},
		{s.reader, "busy_timeout", "10000"},
		{s.reader, "query_only", "1"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
	if _, err := s.reader.ExecContext(ctx, `DELETE FROM checkpoints`); err == nil {
		t.Error("reader pool accepted a write")
	}
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"covergate.db", true},
		{"/var/lib/covergate/state.db", true},
		{"", false},
		{":memory:", false},
		{"file::memory:?cache=shared", false},
		{"file:x.db", false},
		{"x.db?_pragma=synchronous(OFF)", false},
		{"x.db#frag", false},
	}
	for _, tt := range tests {
		if err := checkPath(tt.path); (err == nil) != tt.ok {
			t.Errorf("checkPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

func TestMigrationsFromEmpty(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	// An unmigrated file refuses SkipMigrate.
	if _, err := Open(ctx, path, store.Options{SkipMigrate: true, Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("SkipMigrate opened an empty database")
	}
	for range 2 { // the second run is a no-op
		if err := Migrate(ctx, path, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, path, store.Options{SkipMigrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != store.LatestSchemaVersion {
		t.Fatalf("schema version %d, %v", v, err)
	}
	var tables int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 16 { // 15 domain tables (jobs since 00002, wallet_sessions since 00003, personal_refs since 00005, partner_calls since 00007) + goose_db_version
		t.Fatalf("%d tables after migration", tables)
	}
}

// TestBusyIsRetried holds the write lock from another connection (as another
// process would) so the store's transaction sees a real SQLITE_BUSY, and
// checks it is classified as retryable and that InTx succeeds once the lock
// is released.
func TestBusyIsRetried(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	s := open(t, path)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	// A connection without busy timeout now gets SQLITE_BUSY at once.
	probe, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	_, err = probe.BeginTx(ctx, nil)
	if err == nil || !isRetryable(err) {
		t.Fatalf("BEGIN IMMEDIATE under a held lock: %v (retryable=%v)", err, isRetryable(err))
	}
	if isRetryable(errors.New("other")) || isUniqueViolation(err) {
		t.Fatal("misclassified errors")
	}
	// The store waits (busy_timeout) and then commits once the lock is gone.
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.SetCheckpoint(ctx, "busy", "1")
			return err
		})
	}()
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("InTx after the lock was released: %v", err)
	}
}

// TestErasureLeavesNoBytesInFiles checks the file level, not only the rows:
// secure_delete zeroes freed cells and the WAL is truncated after erasure, so
// the e-mail is in neither the database file nor its -wal.
func TestErasureLeavesNoBytesInFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "gdpr.db")
	s := open(t, path)
	const email = "file.level@example.com"
	var id string
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.CreateCustomer(ctx, domain.Customer{Profile: domain.Profile{Email: email, FirstName: "F"}})
		if err != nil {
			return err
		}
		id = c.ID
		_, err = tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: "k1",
			Payload: []byte(`{"email":"` + email + `"}`), CustomerID: c.ID})
		if err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, domain.Event{Type: "customer.created", Subject: "customers/" + c.ID, CustomerID: c.ID,
			Data: []byte(`{"email":"` + email + `"}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoint so the data is in the main file too, not only in the WAL.
	if _, err := s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if n := countInFiles(t, dir, email); n == 0 {
		t.Fatal("the e-mail is not in the files before erasure: the check below would prove nothing")
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.EraseCustomer(ctx, id, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := countInFiles(t, dir, email); n != 0 {
		t.Fatalf("the erased e-mail is still in the database files (%d occurrences)", n)
	}
}

func countInFiles(t *testing.T, dir, needle string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte(needle))
	}
	return n
}

// TestPanicReleasesWriter: a panicking callback must not leave the single
// writer connection inside an open transaction.
func TestPanicReleasesWriter(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "panic.db"))
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		_ = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.SetCheckpoint(ctx, "p", "lost"); err != nil {
				return err
			}
			panic("handler bug")
		})
	}()
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetCheckpoint(ctx, "q", "ok")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCheckpoint(ctx, "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("write of the panicking transaction: %v", err)
	}
}

// TestPathIsTakenLiterally: spaces and percent signs in the path name the
// file they spell, not a URL-decoded variant.
func TestPathIsTakenLiterally(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my dir")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state 100%20.db")
	s := open(t, path)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at the given path: %v", err)
	}
}

// TestMigrationKeepsPartnerEventIDs: migration 4 keeps the Scalepoint ids recorded by the
// integer column before it, as text.
func TestMigrationKeepsPartnerEventIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m2.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := provider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const ts = "2026-01-02T03:04:05.000006Z"
	if _, err := db.ExecContext(ctx, `INSERT INTO publications (id, dest_partner, event_type, payload, status, next_attempt_time,
		partner_event_id, create_time, update_time, deliver_time) VALUES ('p1','scalepoint','case_created',x'7b7d','DELIVERED',?,42,?,?,?),
		('p2','scalepoint','case_created',x'7b7d','PENDING',?,NULL,?,?,NULL)`, ts, ts, ts, ts, ts, ts, ts); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := Migrate(ctx, path, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, store.Options{SkipMigrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[string]string{"p1": "42", "p2": ""} {
		p, err := s.GetPublication(ctx, id)
		if err != nil || p.PartnerEventID != want {
			t.Fatalf("%s: PartnerEventID %q, %v; want %q", id, p.PartnerEventID, err, want)
		}
	}
}
