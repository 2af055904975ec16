// Package postgres is the production store engine: PostgreSQL through a
// pgx/v5 connection pool. Several gateway replicas may share one database:
// outbox workers lease rows with FOR UPDATE SKIP LOCKED, and a commit that
// appends events sends NOTIFY so event watchers on every replica wake.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ListenerApplicationName names the LISTEN connection in pg_stat_activity.
const ListenerApplicationName = "covergate-event-listener"

// Store is the PostgreSQL engine. It implements store.Store.
type Store struct {
	// Reader serves the read roles from the pool, outside any transaction.
	store.Reader
	pool    *pgxpool.Pool
	dialect *sqlstore.Dialect
	bc      *store.Broadcaster
	log     *slog.Logger
	retries int
	schema  string
	channel string

	stop context.CancelFunc // ends the listener goroutine
	wg   sync.WaitGroup     // waits for it
	once sync.Once
}

var _ store.Store = (*Store)(nil)

// defaultConnectTimeout bounds one connection attempt unless the DSN sets connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Open connects to the database named by dsn (postgres:// or postgresql://;
// a search_path query parameter selects the schema), applies pending
// migrations unless opts.SkipMigrate, and starts the LISTEN connection.
func Open(ctx context.Context, dsn string, opts store.Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable server (a dropped SYN) must fail the start in seconds with its cause,
		// not after the kernel's minutes-long TCP timeout. connect_timeout in the DSN wins.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := runMigrations(ctx, pool, log, !opts.SkipMigrate); err != nil {
		pool.Close()
		return nil, err
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	s := &Store{
		pool:    pool,
		bc:      store.NewBroadcaster(),
		log:     log,
		retries: opts.MaxRetries,
		schema:  schema,
		channel: channelName(schema),
	}
	lockKey := eventLockKey(schema)
	s.dialect = &sqlstore.Dialect{
		Time:              func(t time.Time) any { return t },
		IsUniqueViolation: func(err error) bool { return pgCode(err) == "23505" },
		LockSuffix:        " FOR UPDATE SKIP LOCKED",
		BeforeFirstAppend: func(ctx context.Context, q sqlstore.Querier) error { return lockEventLog(ctx, q, lockKey, s.channel) },
		Now:               now,
	}
	s.Reader = sqlstore.New(poolQuerier{pool}, s.dialect, nil)

	lcfg := cfg.ConnConfig.Copy()
	lcfg.RuntimeParams["application_name"] = ListenerApplicationName
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.listen(lctx, lcfg)
	}()
	return s, nil
}

// lockEventLog makes event cursors commit-ordered. The identity sequence
// hands out numbers at INSERT time, but transactions commit in any order: a
// watcher that has read cursor 11 would never see a slower transaction's
// cursor 10 committed afterwards. Taking one transaction-scoped advisory lock
// before the first append serializes appenders from "take a number" to
// commit, so a later number always commits later. Only appending
// transactions contend, and only from their first append on; the lock is
// per schema so independent deployments (and test schemas) do not contend.
// The NOTIFY is queued here too: PostgreSQL delivers it only on commit.
func lockEventLog(ctx context.Context, q sqlstore.Querier, key int64, channel string) error {
	// One statement for both: one round trip less for every appending transaction.
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock($1), pg_notify($2, '')`, key, channel); err != nil {
		return fmt.Errorf("lock event log and notify event watchers: %w", err)
	}
	return nil
}

// eventLockKey derives the advisory lock key from the schema name.
func eventLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("covergate/events/" + schema))
	return int64(h.Sum64())
}

// channelName is the NOTIFY channel for a schema (identifiers are at most 63
// bytes).
func channelName(schema string) string {
	c := "covergate_events_" + schema
	if len(c) > 63 {
		h := fnv.New64a()
		h.Write([]byte(schema))
		c = fmt.Sprintf("covergate_events_%x", h.Sum64())
	}
	return c
}

// listen owns the dedicated LISTEN connection until ctx ends, reconnecting
// with backoff. After every (re)connect it signals once, because
// notifications sent while disconnected are lost and watchers must re-read.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cfg, b)
		if ctx.Err() != nil {
			return
		}
		wait := b.NextBackOff()
		s.log.WarnContext(ctx, "postgres: event listener disconnected; reconnecting", "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, b *backoff.ExponentialBackOff) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	b.Reset()
	s.bc.Signal()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		s.bc.Signal()
	}
}

func runMigrations(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, apply bool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	// The session lock keeps replicas starting together from migrating at
	// the same time.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if !apply {
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("postgres: check schema version: %w", err)
		}
		if pending {
			return errors.New("postgres: schema is not current; run `covergate migrate`")
		}
		return nil
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied migration", "engine", "postgres", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Migrate applies pending migrations to the database named by dsn.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer pool.Close()
	return runMigrations(ctx, pool, log, true)
}

// SchemaVersion returns the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isRetryable: serialization_failure and deadlock_detected are safe to re-run.
func isRetryable(err error) bool {
	switch pgCode(err) {
	case "40001", "40P01":
		return true
	}
	return false
}

// InTx implements store.Store (READ COMMITTED; version checks are done by
// conditional UPDATEs, which re-check the row under its lock).
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return sqlstore.RetryTx(ctx, s.retries, isRetryable, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if store.FlushSkipped(ctx) {
				// SET LOCAL ends with the transaction: the pooled connection keeps the
				// server's setting for everything else.
				if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
					return fmt.Errorf("postgres: commit without flush: %w", err)
				}
			}
			q := newTxQuerier(tx)
			if err := fn(ctx, sqlstore.New(q, s.dialect, &sqlstore.TxState{})); err != nil {
				return err
			}
			return q.Flush(ctx) // nothing held back is left out of the commit
		})
	})
}

// Subscribe implements store.Notifier: signals come from LISTEN, so a commit
// on any replica wakes watchers on this one.
func (s *Store) Subscribe(ctx context.Context) (<-chan struct{}, func()) { return s.bc.Subscribe(ctx) }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops the listener (and waits for it), closes watcher channels and
// the pool. It is safe to call more than once.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.stop()
		s.wg.Wait()
		s.bc.Close()
		s.pool.Close()
	})
	return nil
}

// FindText implements store.Store: text columns are searched as text, bytea
// columns through their escape encoding (printable bytes stay as they are).
func (s *Store) FindText(ctx context.Context, needle string) ([]string, error) {
	if needle == "" {
		return nil, errors.New("postgres: find text: empty needle")
	}
	rows, err := s.pool.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb')
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("postgres: find text: %w", err)
	}
	type col struct{ table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		err := r.Scan(&c.table, &c.name, &c.typ)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find text: %w", err)
	}
	var found []string
	for _, c := range cols {
		expr := pgx.Identifier{c.name}.Sanitize() + "::text"
		if c.typ == "bytea" {
			expr = "encode(" + pgx.Identifier{c.name}.Sanitize() + ", 'escape')"
		}
		var hit bool
		q := `SELECT EXISTS (SELECT 1 FROM ` + pgx.Identifier{c.table}.Sanitize() + ` WHERE strpos(lower(` + expr + `), lower($1)) > 0)`
		if err := s.pool.QueryRow(ctx, q, needle).Scan(&hit); err != nil {
			return nil, fmt.Errorf("postgres: find text in %s.%s: %w", c.table, c.name, err)
		}
		if hit {
			found = append(found, c.table+"."+c.name)
		}
	}
	return found, nil
}
