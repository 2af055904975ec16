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
