package sqlite

import (
	"context"
	"database/sql"
	"errors"
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

// sqlTxQuerier runs a transaction's statements on the writer connection, through the writer's
// prepared statements when it has them (see stmtCache.lookup): the driver would otherwise
// compile the SQL of every statement of every webhook delivery, the largest share of the
// single writer's time (issue 17).
type sqlTxQuerier struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (q sqlTxQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if stmt := q.stmts.lookup(query); stmt != nil {
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
	var rows *sql.Rows
	var err error
	if stmt := q.stmts.lookup(query); stmt != nil {
		rows, err = q.tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
	} else {
		rows, err = q.tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
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
	missed map[string]bool // looked up but not prepared yet (see lookup)
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{}}
}

// lookup returns the prepared statement for query, or nil (run it unprepared) and remembers it
// for prepareMissed. It is the writer's way: its only connection is busy with the transaction
// that asks, so statements are prepared between transactions instead (database/sql then reuses
// the statement on that connection inside every later transaction: Tx.StmtContext).
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	stmt, ok := c.stmts[query]
	if !ok && !c.closed && len(c.stmts)+len(c.missed) < maxCachedStmts {
		c.missed[query] = true
	}
	return stmt
}

// prepareMissed prepares the statements lookup could not give, once the connection is free. A
// statement that fails to prepare is dropped: it failed (or will fail) in its transaction too.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	c.mu.Lock()
	missed := c.missed
	c.missed = map[string]bool{}
	c.mu.Unlock()
	for query := range missed {
		_, _ = c.get(ctx, query)
	}
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
