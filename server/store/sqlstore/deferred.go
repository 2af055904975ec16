package sqlstore

import (
	"context"
	"fmt"

	"github.com/covergate/covergate/server/store"
)

// Deferrer is implemented by a transaction's Querier that can hold writes back and send them
// with the next statement (PostgreSQL: one pipelined round trip for several statements). done
// turns a deferred write's outcome into its error; a failing one is the error of the statement
// or Flush that sent it.
type Deferrer interface {
	Defer(query string, args []any, done func(n int64, err error) error)
	// Flush sends the writes held back, if any.
	Flush(ctx context.Context) error
}

var _ store.WriteBehinder = (*Queries)(nil)

// DeferWrites implements store.WriteBehinder: from now on, the writes whose result only says
// whether they failed are held back when the Querier can (see Deferrer), and sent with the
// transaction's next statement.
func (s *Queries) DeferWrites() { s.deferWrites = true }

// FlushWrites implements store.WriteBehinder.
func (s *Queries) FlushWrites(ctx context.Context) error {
	if d, ok := s.q.(Deferrer); ok {
		return d.Flush(ctx)
	}
	return nil
}

// execLater runs a write whose outcome done maps to an error — at once, or held back after
// DeferWrites. Only writes nobody reads a result of (rows, ids) go through it.
func (s *Queries) execLater(ctx context.Context, done func(n int64, err error) error, query string, args ...any) error {
	if d, ok := s.q.(Deferrer); ok && s.deferWrites {
		d.Defer(query, args, done)
		return nil
	}
	n, err := s.q.Exec(ctx, query, args...)
	return done(n, err)
}

// failed is the done of a write that only fails by an error.
func failed(what string) func(int64, error) error {
	return func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
		return nil
	}
}

// laterQuerier is a Querier whose Exec is execLater: it hands the dialect's BeforeFirstAppend
// statements to the same pipeline as the appends that follow them.
type laterQuerier struct{ s *Queries }

func (l laterQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return 0, l.s.execLater(ctx, func(_ int64, err error) error { return err }, query, args...)
}

func (l laterQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return l.s.q.Query(ctx, query, args...)
}
