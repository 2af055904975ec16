package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/covergate/covergate/server/store/sqlstore"
)

// pgxRunner is what pgxpool.Pool and pgx.Tx have in common.
type pgxRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// poolQuerier adapts pgx to sqlstore.Querier natively (no database/sql).
type poolQuerier struct{ r pgxRunner }

func (q poolQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q poolQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return q.r.Query(ctx, query, args...)
}

// txQuerier runs a transaction's statements. Writes held back by sqlstore (Defer, after
// DeferWrites) are sent with the next statement in one pgx batch — one round trip for several
// statements — and their failure is that statement's error (issue 17: a webhook delivery's
// writes no longer cost a round trip each).
type txQuerier struct {
	tx      pgx.Tx
	pending *[]deferredWrite // shared by copies of the querier
}

type deferredWrite struct {
	query string
	args  []any
	done  func(n int64, err error) error
}

var _ sqlstore.Deferrer = txQuerier{}

func newTxQuerier(tx pgx.Tx) txQuerier { return txQuerier{tx: tx, pending: new([]deferredWrite)} }

// Defer implements sqlstore.Deferrer.
func (q txQuerier) Defer(query string, args []any, done func(n int64, err error) error) {
	*q.pending = append(*q.pending, deferredWrite{query: query, args: args, done: done})
}

// Flush implements sqlstore.Deferrer.
func (q txQuerier) Flush(ctx context.Context) error {
	if len(*q.pending) == 0 {
		return nil
	}
	br, err := q.send(ctx, nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// send sends the held-back writes and then, when last is set, one more statement, in one batch,
// and reads the writes' outcomes: the first failure is returned (the statements after it fail
// with the aborted transaction). The caller reads last's result from br, then closes br.
func (q txQuerier) send(ctx context.Context, last *pgx.QueuedQuery) (pgx.BatchResults, error) {
	writes := *q.pending
	*q.pending = nil
	b := &pgx.Batch{}
	for _, w := range writes {
		b.Queue(w.query, w.args...)
	}
	if last != nil {
		b.QueuedQueries = append(b.QueuedQueries, last)
	}
	br := q.tx.SendBatch(ctx, b)
	for _, w := range writes {
		tag, err := br.Exec()
		if err := w.done(tag.RowsAffected(), err); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (q txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if len(*q.pending) == 0 {
		return poolQuerier{q.tx}.Exec(ctx, query, args...)
	}
	br, err := q.send(ctx, &pgx.QueuedQuery{SQL: query, Arguments: args})
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if len(*q.pending) == 0 {
		return q.tx.Query(ctx, query, args...)
	}
	br, err := q.send(ctx, &pgx.QueuedQuery{SQL: query, Arguments: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return batchRows{Rows: rows, br: br}, nil
}

// batchRows are the rows of a batch's last statement; closing them ends the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}
