// Package sqlstore implements the store roles once, in SQL that both engines
// accept (PostgreSQL, and SQLite ≥ 3.35: $N parameters, ON CONFLICT,
// RETURNING, partial indexes). The engines supply a Querier bound to a
// connection or transaction and a Dialect for the few places they differ:
// time encoding, error classification, row locking and event-log ordering.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Querier runs SQL on a connection, pool or transaction.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Rows is the subset of *sql.Rows and pgx.Rows the queries use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is what differs between engines.
type Dialect struct {
	// Time encodes a timestamp argument (already UTC, microsecond precision).
	Time func(time.Time) any
	// IsUniqueViolation reports a unique-constraint error.
	IsUniqueViolation func(error) bool
	// LockSuffix is appended to the SELECT that picks due publications
	// (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite has one writer and needs
	// nothing).
	LockSuffix string
	// BeforeFirstAppend runs once per transaction before its first event is
	// appended (PostgreSQL: serialize appenders so cursors follow commit
	// order, and queue the NOTIFY). Nil when not needed.
	BeforeFirstAppend func(ctx context.Context, q Querier) error
	// Now is the clock.
	Now func() time.Time
}

// TxState records what a transaction did, for the engine to act on after
// commit (for example to wake in-process watchers).
type TxState struct {
	AppendedEvents bool
	// Erased is set by EraseCustomer: SQLite then truncates its WAL so old
	// page images holding the erased data do not linger in the -wal file.
	Erased bool
}

// Queries implements every store role over one Querier.
type Queries struct {
	q          Querier
	d          *Dialect
	st         *TxState // nil outside a transaction
	savepoints int      // savepoints open now (nesting depth), to name the next one
	// deferWrites holds result-less writes back (DeferWrites), when the Querier can.
	deferWrites bool
}

// New binds the queries to q. st is nil for the read-only pool.
func New(q Querier, d *Dialect, st *TxState) *Queries {
	return &Queries{q: q, d: d, st: st}
}

var (
	_ store.Tx          = (*Queries)(nil)
	_ store.Reader      = (*Queries)(nil)
	_ store.Savepointer = (*Queries)(nil)

	_ store.EventBatchAppender = (*Queries)(nil)
)

// Savepoint implements store.Savepointer with SAVEPOINT / ROLLBACK TO /
// RELEASE, which both engines speak. On rollback the transaction's state is
// restored too: in particular "events appended", because on PostgreSQL the
// event-log lock taken by the first append is released with the savepoint
// and the next append must take it again.
func (s *Queries) Savepoint(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.st == nil {
		return errors.New("store: savepoint outside a transaction")
	}
	// Named by depth, not by count: a released savepoint's name is free again, and the engine's
	// statement cache (SQLite's prepared statements) sees a few texts, not one per delivery.
	// Writes held back belong to what ran before the savepoint: sent now, their failure is not
	// taken for fn's.
	if err := s.FlushWrites(ctx); err != nil {
		return fmt.Errorf("store: before savepoint: %w: %w", store.ErrTxUnusable, err)
	}
	s.savepoints++
	defer func() { s.savepoints-- }()
	name := fmt.Sprintf("covergate_sp_%d", s.savepoints)
	saved := *s.st
	if _, err := s.q.Exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("store: open savepoint: %w: %w", store.ErrTxUnusable, err)
	}
	if err := fn(ctx); err != nil {
		if _, rerr := s.q.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("store: roll back savepoint: %w: %w", store.ErrTxUnusable, rerr))
		}
		*s.st = saved
		if _, rerr := s.q.Exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("store: release savepoint: %w: %w", store.ErrTxUnusable, rerr))
		}
		return err
	}
	if _, err := s.q.Exec(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("store: release savepoint: %w: %w", store.ErrTxUnusable, err)
	}
	return nil
}

// now returns the clock time with the precision both engines keep.
func (s *Queries) now() time.Time { return Trunc(s.d.Now()) }

// Trunc normalizes a time to what the store round-trips: UTC, microseconds.
func Trunc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ts encodes a required time.
func (s *Queries) ts(t time.Time) any { return s.d.Time(Trunc(t)) }

// nts encodes an optional time: zero → NULL.
func (s *Queries) nts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.Time(Trunc(t))
}

// nstr encodes an optional reference: "" → NULL, so partial unique indexes
// and foreign keys ignore it.
func nstr(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// blob never passes nil: both drivers would write NULL into a NOT NULL column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// TimeText is SQLite's timestamp encoding: fixed-width UTC RFC 3339 with
// microseconds, so text order is time order.
const TimeText = "2006-01-02T15:04:05.000000Z"

// timeDest scans a timestamp from either engine (time.Time from pgx, text
// from SQLite); NULL gives the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = Trunc(v)
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (d timeDest) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("sqlstore: parse time %q: %w", v, err)
	}
	*d.t = Trunc(t)
	return nil
}

// strDest scans a nullable text column into a string ("" for NULL).
type strDest struct{ s *string }

func (d strDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.s = ""
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a string", src)
	}
	return nil
}

// bytesDest scans a blob column into a fresh []byte (never aliasing driver
// memory).
type bytesDest struct{ b *[]byte }

func (d bytesDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.b = nil
	case []byte:
		*d.b = append([]byte(nil), v...)
	case string:
		*d.b = []byte(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into bytes", src)
	}
	return nil
}

// intDest scans a nullable integer column (0 for NULL).
type intDest struct{ i *int64 }

func (d intDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.i = 0
	case int64:
		*d.i = v
	case int32:
		*d.i = int64(v)
	case int:
		*d.i = int64(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into an integer", src)
	}
	return nil
}

// errNoRows marks an empty single-row query.
var errNoRows = errors.New("no rows")

// queryOne runs a query expected to return at most one row.
func (s *Queries) queryOne(ctx context.Context, scan func(Rows) error, query string, args ...any) error {
	rows, err := s.q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errNoRows
	}
	if err := scan(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, s *Queries, scan func(Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// getOne runs a single-row query and maps "no row" to store.ErrNotFound.
func getOne[T any](ctx context.Context, s *Queries, what string, scan func(Rows) (T, error), query string, args ...any) (T, error) {
	var v T
	err := s.queryOne(ctx, func(r Rows) error {
		var err error
		v, err = scan(r)
		return err
	}, query, args...)
	if errors.Is(err, errNoRows) {
		return v, fmt.Errorf("store: %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("store: %s: %w", what, err)
	}
	return v, nil
}

// mapWriteErr turns a unique violation into store.ErrDuplicate.
func (s *Queries) mapWriteErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if s.d.IsUniqueViolation(err) {
		return fmt.Errorf("store: %s: %w (%v)", what, store.ErrDuplicate, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// filter builds a WHERE clause with numbered parameters.
type filter struct {
	conds []string
	args  []any
}

// add appends cond, whose '?' becomes the next $N bound to arg.
func (f *filter) add(cond string, arg any) {
	f.args = append(f.args, arg)
	f.conds = append(f.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(f.args))))
}

// param appends arg and returns its placeholder.
func (f *filter) param(arg any) string {
	f.args = append(f.args, arg)
	return "$" + strconv.Itoa(len(f.args))
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// pageSize clamps a requested size.
func pageSize(n int) int {
	switch {
	case n <= 0:
		return store.DefaultPageSize
	case n > store.MaxPageSize:
		return store.MaxPageSize
	}
	return n
}

// listPage runs a keyset-paged query ordered by id: it fetches one extra row to
// know whether a next page exists.
func listPage[T any](ctx context.Context, s *Queries, what, selectFrom string, f *filter, page store.PageRequest, scan func(Rows) (T, error), idOf func(T) string) (store.Page[T], error) {
	size := pageSize(page.Size)
	if page.After != "" {
		f.add("id > ?", page.After)
	}
	q := selectFrom + f.where() + " ORDER BY id LIMIT " + f.param(size+1)
	items, err := queryAll(ctx, s, scan, q, f.args...)
	if err != nil {
		return store.Page[T]{}, fmt.Errorf("store: list %s: %w", what, err)
	}
	var out store.Page[T]
	if len(items) > size {
		items = items[:size]
		out.Next = idOf(items[size-1])
	}
	out.Items = items
	return out, nil
}

// newID fills an empty id with a UUIDv7.
func newID(id *string) error {
	if *id != "" {
		return nil
	}
	v, err := domain.NewID()
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// checkOne maps a write error, and a write that touched no row to
// store.ErrNotFound.
func checkOne(n int64, what string, err error) error {
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

// The scan destinations work with database/sql and with pgx, which both
// honour sql.Scanner.
var (
	_ sql.Scanner = timeDest{}
	_ sql.Scanner = strDest{}
	_ sql.Scanner = bytesDest{}
	_ sql.Scanner = intDest{}
)

// placeholders renders "$1,$2,...,$n".
func placeholders(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(i))
	}
	return b.String()
}
