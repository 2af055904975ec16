package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/covergate/covergate/server/store/sqlstore"
)

// sqlRows adapts *sql.Rows: Close errors resurface through Err.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// sqlQuerier runs the read roles on the reader pool. Queries go through prepared statements
// kept for the store's lifetime: the SQLite driver compiles the SQL text of an unprepared query
// on every call, which was a large share of a GetPolicy's CPU time (issue 17).
type sqlQuerier struct {
	db    *sql.DB
	stmts *stmtCache
}

func (q sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	stmt, err := q.stmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if stmt != nil {
		rows, err = stmt.QueryContext(ctx, args...)
	} else {
		rows, err = q.db.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlTxQuerier runs a write transaction. Statements in prepared (sqlstore.PreparedWrites,
// prepared on the writer pool at Open and read-only afterwards) run prepared.
type sqlTxQuerier struct {
	tx       *sql.Tx
	prepared map[string]*sql.Stmt
}

func (q sqlTxQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if stmt, ok := q.prepared[query]; ok {
		// Tx.StmtContext reuses the statement already prepared on the writer connection
		// (database/sql prepares it again only on a replaced connection).
		res, err = q.tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	} else {
		res, err = q.tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlTxQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// prepareWrites prepares sqlstore.PreparedWrites on the writer pool. It runs at Open, before
// any transaction holds the single writer connection (preparing on the pool waits for it).
func prepareWrites(ctx context.Context, writer *sql.DB) (map[string]*sql.Stmt, error) {
	stmts := map[string]*sql.Stmt{}
	for _, q := range sqlstore.PreparedWrites() {
		stmt, err := writer.PrepareContext(ctx, q)
		if err != nil {
			_ = closeStmts(stmts)
			return nil, fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		stmts[q] = stmt
	}
	return stmts, nil
}

func closeStmts(stmts map[string]*sql.Stmt) error {
	var errs []error
	for _, s := range stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// maxCachedStmts bounds the statement cache. The store's SQL texts are constants of the code (a
// few dozen, some built from a table name), so the bound is never reached in practice; past it,
// queries simply run unprepared.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per SQL text on a pool. database/sql prepares it on
// each pool connection the first time it runs there and reuses it afterwards (the driver keeps
// the compiled statement and only resets it between runs).
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, preparing it on first use, or nil (run the
// query unprepared) when the cache is full or closed. A statement that fails to prepare is not
// kept: its error is the query's error.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	stmt, ok := c.stmts[query]
	full := c.closed || len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return stmt, nil
	}
	// Prepared outside the lock: preparing waits for a pool connection.
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok || c.closed {
		// Another caller prepared it meanwhile (or the store is closing): keep one.
		_ = stmt.Close()
		return prev, nil
	}
	c.stmts[query] = stmt
	return stmt, nil
}

// close closes every statement; later queries run unprepared.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Close())
	}
	c.stmts = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}
