package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// The reader pool's queries run through prepared statements kept per SQL text: each text is
// prepared once and answers correctly on every pool connection, the cache is bounded (past the
// bound queries run unprepared, still correctly), a text that fails to prepare fails its query
// and is not kept, and after Close nothing is kept.
func TestReaderStatementCache(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	ctx := context.Background()
	q := sqlQuerier{db: s.reader, stmts: s.stmts}
	one := func(query string, arg int) (int, error) {
		rows, err := q.Query(ctx, query, arg)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var got int
		if !rows.Next() {
			return 0, fmt.Errorf("no row (%v)", rows.Err())
		}
		if err := rows.Scan(&got); err != nil {
			return 0, err
		}
		return got, rows.Err()
	}
	// Concurrent callers share one statement across the pool's connections.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if got, err := one(`SELECT $1 + 1`, g*100+i); err != nil || got != g*100+i+1 {
					t.Errorf("SELECT $1 + 1 with %d = %d, %v", g*100+i, got, err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.stmts.stmts); n != 1 {
		t.Fatalf("%d statements cached, want 1", n)
	}
	for i := range maxCachedStmts + 10 {
		if got, err := one(fmt.Sprintf(`SELECT $1 * %d`, i), 2); err != nil || got != 2*i {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if n := len(s.stmts.stmts); n != maxCachedStmts {
		t.Errorf("%d statements cached, want the bound %d", n, maxCachedStmts)
	}
	s.stmts.mu.Lock()
	delete(s.stmts.stmts, `SELECT $1 + 1`) // room for one more
	s.stmts.mu.Unlock()
	if _, err := one(`SELECT nope FROM nowhere WHERE 1 = $1`, 1); err == nil {
		t.Error("a bad query succeeded")
	}
	if _, ok := s.stmts.stmts[`SELECT nope FROM nowhere WHERE 1 = $1`]; ok {
		t.Error("a statement that failed to prepare was kept")
	}
	if err := s.stmts.close(); err != nil {
		t.Fatal(err)
	}
	if got, err := one(`SELECT $1 + 1`, 41); err != nil || got != 42 {
		t.Errorf("after close: %d, %v", got, err)
	}
	if n := len(s.stmts.stmts); n != 0 {
		t.Errorf("%d statements kept after close", n)
	}
}
