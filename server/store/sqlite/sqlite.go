// Package sqlite is the embedded store engine: one SQLite file through the
// pure-Go modernc.org/sqlite driver.
//
// Connection settings, applied to every connection:
//   - journal_mode=WAL: readers never block the writer and vice versa.
//   - busy_timeout=10000: another process holding the lock (for example a
//     concurrent `covergate migrate`) makes us wait instead of failing.
//   - foreign_keys=ON: SQLite leaves them off by default.
//   - synchronous=FULL: every commit fsyncs the WAL. Under WAL, NORMAL only
//     syncs at checkpoints, so a commit acknowledged just before a power cut
//     can vanish; a webhook we answered 2xx would then be lost while the
//     partner believes it was delivered. FULL costs one fsync per commit,
//     which group commit amortizes.
//   - secure_delete=ON: freed space is zeroed so erased personal data does
//     not survive in free pages of the file.
//
// Writes go through a separate *sql.DB limited to one connection whose
// transactions start with BEGIN IMMEDIATE (they take the write lock up front,
// so two writers never deadlock upgrading a read lock). Reads use a pool of
// query_only connections.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeout is how long a connection waits for a lock held elsewhere.
const busyTimeout = 10 * time.Second

// Store is the SQLite engine. It implements store.Store.
type Store struct {
	// Reader serves the read roles from the query_only pool, outside any
	// transaction.
	store.Reader
	writer  *sql.DB
	reader  *sql.DB
	stmts   *stmtCache // the reader pool's prepared statements
	wstmts  *stmtCache // the writer's, used inside transactions
	dialect *sqlstore.Dialect
	bc      *store.Broadcaster
	log     *slog.Logger
	retries int
}

var _ store.Store = (*Store)(nil)

// dsn builds the driver DSN for path with the pragmas every connection needs.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "secure_delete(1)")
	// Statement and savepoint journals (group commit puts each webhook delivery in a savepoint)
	// and temporary sort files stay in memory: they only serve rollbacks inside a transaction,
	// so durability is unchanged, a savepoint costs no temp-file writes, and no page copy with
	// personal data is written to an unnamed temp file.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// checkPath refuses paths that are not plain files: an in-memory database
// would lose everything on exit, and a '?' would smuggle driver options in.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("sqlite: empty database path (use sqlite:PATH, e.g. sqlite:covergate.db)")
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "mode=memory"):
		return fmt.Errorf("sqlite: %q is not a file path; an in-memory database is not durable", path)
	case strings.ContainsAny(path, "?#"):
		return fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	return nil
}

// Open opens (creating if needed) the database file at path and, unless
// opts.SkipMigrate, applies pending migrations.
func Open(ctx context.Context, path string, opts store.Options) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	writer, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !opts.SkipMigrate {
		if err := migrate(ctx, writer, log); err != nil {
			writer.Close()
			return nil, err
		}
	} else if err := checkCurrent(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open readers for %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	d := &sqlstore.Dialect{
		Time:              func(t time.Time) any { return t.Format(sqlstore.TimeText) },
		IsUniqueViolation: isUniqueViolation,
		Now:               now,
	}
	s := &Store{
		writer:  writer,
		reader:  reader,
		stmts:   newStmtCache(reader),
		wstmts:  newStmtCache(writer),
		dialect: d,
		bc:      store.NewBroadcaster(),
		log:     log,
		retries: opts.MaxRetries,
	}
	s.Reader = sqlstore.New(sqlQuerier{db: reader, stmts: s.stmts}, d, nil)
	// The outbox's outcome updates run once per delivered publication: prepared from the start.
	for _, q := range sqlstore.PreparedWrites() {
		if _, err := s.wstmts.get(ctx, q); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
	}
	return s, nil
}

// Migrate applies pending migrations to the database file at path.
func Migrate(ctx context.Context, path string, log *slog.Logger) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return migrate(ctx, db, log)
}

func provider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied migration", "engine", "sqlite", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// checkCurrent fails when migrations are pending, so SkipMigrate never runs
// queries against an old schema.
func checkCurrent(ctx context.Context, db *sql.DB) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: check schema version: %w", err)
	}
	if pending {
		return errors.New("sqlite: schema is not current; run `covergate migrate`")
	}
	return nil
}

// SchemaVersion returns the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := provider(s.writer)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

func errCode(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

func isUniqueViolation(err error) bool {
	c, ok := errCode(err)
	return ok && (c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isRetryable reports lock contention that busy_timeout could not absorb
// (primary code SQLITE_BUSY or SQLITE_LOCKED, including extended codes such
// as SQLITE_BUSY_SNAPSHOT).
func isRetryable(err error) bool {
	c, ok := errCode(err)
	return ok && (c&0xff == sqlite3.SQLITE_BUSY || c&0xff == sqlite3.SQLITE_LOCKED)
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return sqlstore.RetryTx(ctx, s.retries, isRetryable, func() error {
		st := &sqlstore.TxState{}
		if err := s.runTx(ctx, st, fn); err != nil {
			return err
		}
		if st.AppendedEvents {
			s.bc.Signal()
		}
		if st.Erased {
			s.truncateWAL(ctx)
		}
		return nil
	})
}

func (s *Store) runTx(ctx context.Context, st *sqlstore.TxState, fn func(ctx context.Context, tx store.Tx) error) error {
	// Deferred first, so it runs last: once the transaction has ended and the writer connection
	// is back in the pool (below, a held connection is released before), it is free for
	// preparing what this transaction ran unprepared.
	defer s.wstmts.prepareMissed(ctx)
	if !store.FlushSkipped(ctx) {
		return s.runTxOn(ctx, s.writer, st, fn)
	}
	// synchronous can only change outside a transaction and stays set on the connection: the
	// single writer connection is held from the PRAGMA that lowers it to the one that restores
	// it, so no other transaction (an acknowledged webhook) ever commits without its fsync.
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: writer connection: %w", err)
	}
	defer conn.Close()
	defer func() {
		// Restored even when ctx has ended. A connection that cannot be restored is discarded
		// (the pool opens a new one with the DSN's synchronous=FULL) rather than kept; the
		// transaction's own result stands (InTx reports whether it committed).
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous=FULL`); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			s.log.WarnContext(ctx, "sqlite: writer connection discarded: could not restore synchronous=FULL", "error", rerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
		return fmt.Errorf("sqlite: commit without flush: %w", err)
	}
	return s.runTxOn(ctx, conn, st, fn)
}

// beginner is the writer pool or one of its connections.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func (s *Store) runTxOn(ctx context.Context, db beginner, st *sqlstore.TxState, fn func(ctx context.Context, tx store.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	committed := false
	// Deferred so that a panicking fn also releases the single writer
	// connection instead of leaving its transaction open forever.
	defer func() {
		if committed {
			return
		}
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rerr))
		}
	}()
	if err := fn(ctx, sqlstore.New(sqlTxQuerier{tx: tx, stmts: s.wstmts}, s.dialect, st)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	committed = true
	return nil
}

// truncateWAL checkpoints and empties the -wal file after an erasure: the WAL
// still holds earlier page images containing the personal data until it is
// reset. Failure (a long reader) is logged; the next checkpoint retries.
func (s *Store) truncateWAL(ctx context.Context) {
	var busy, logFrames, checkpointed int
	err := s.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
	if err != nil || busy != 0 {
		s.log.WarnContext(ctx, "sqlite: could not truncate WAL after erasure", "error", err, "busy", busy)
	}
}

// Subscribe implements store.Notifier (in process: SQLite has one writer,
// this process).
func (s *Store) Subscribe(ctx context.Context) (<-chan struct{}, func()) { return s.bc.Subscribe(ctx) }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Close implements store.Store: it wakes watchers (their channels close) and
// closes both pools.
func (s *Store) Close() error {
	s.bc.Close()
	return errors.Join(s.stmts.close(), s.wstmts.close(), s.reader.Close(), s.writer.Close())
}

// FindText implements store.Store.
func (s *Store) FindText(ctx context.Context, needle string) ([]string, error) {
	if needle == "" {
		return nil, errors.New("sqlite: find text: empty needle")
	}
	tables, err := s.list(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, t := range tables {
		cols, err := s.list(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, t)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			var n int
			q := fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE instr(lower(CAST(%s AS TEXT)), lower(?)) > 0`, quote(t), quote(c))
			if err := s.reader.QueryRowContext(ctx, q, needle).Scan(&n); err != nil {
				return nil, fmt.Errorf("sqlite: find text in %s.%s: %w", t, c, err)
			}
			if n > 0 {
				found = append(found, t+"."+c)
			}
		}
	}
	return found, nil
}

func (s *Store) list(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }
