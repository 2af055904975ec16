package sqlite

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/sqlstore"
)

func writerSynchronous(t *testing.T, s *Store) string {
	t.Helper()
	var got string
	if err := s.writer.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func enqueueOne(ctx context.Context, s *Store, corr string) (domain.Publication, error) {
	var p domain.Publication
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = tx.EnqueuePublication(ctx, domain.Publication{
			Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "t"},
			EventType:   "case_created", CorrelationID: corr, Payload: []byte(`{"eventType":"case_created"}`),
		})
		return err
	})
	return p, err
}

// TestCommitWithoutFlush: a store.WithoutFlush transaction commits like any other (visible to
// the readers, rolled back on error), and the single writer connection is back to
// synchronous=FULL afterwards, whatever happened: every other transaction (an acknowledged
// webhook) still waits for its fsync.
func TestCommitWithoutFlush(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "f.db"))
	ctx := context.Background()
	p, err := enqueueOne(store.WithoutFlush(ctx), s, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if got := writerSynchronous(t, s); got != "2" {
		t.Fatalf("writer synchronous = %s after a commit without flush, want 2 (FULL)", got)
	}
	if got, err := s.GetPublication(ctx, p.ID); err != nil || got.CorrelationID != "kept" {
		t.Fatalf("GetPublication = %+v, %v; want the committed publication", got, err)
	}
	boom := errors.New("boom")
	err = s.InTx(store.WithoutFlush(ctx), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.EnqueuePublication(ctx, domain.Publication{
			Destination: domain.Destination{Partner: domain.PartnerScalepoint}, EventType: "case_created", Payload: []byte(`{}`),
		}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if got := writerSynchronous(t, s); got != "2" {
		t.Fatalf("writer synchronous = %s after a rolled-back transaction without flush, want 2 (FULL)", got)
	}
	stats, err := s.OutboxStats(ctx)
	if err != nil || stats.Pending != 1 {
		t.Fatalf("OutboxStats = %+v, %v; want the rolled-back publication absent", stats, err)
	}
	// A panicking fn: the panic goes on, and the connection is still FULL.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic of fn was swallowed")
			}
		}()
		_ = s.InTx(store.WithoutFlush(ctx), func(context.Context, store.Tx) error { panic("fn") })
	}()
	if got := writerSynchronous(t, s); got != "2" {
		t.Fatalf("writer synchronous = %s after a panicking transaction without flush, want 2 (FULL)", got)
	}
	// A canceled context: nothing runs, and the connection is still FULL.
	canceled, cancel := context.WithCancel(store.WithoutFlush(ctx))
	cancel()
	if _, err := enqueueOne(canceled, s, "never"); err == nil {
		t.Fatal("a transaction with a canceled context committed")
	}
	if got := writerSynchronous(t, s); got != "2" {
		t.Fatalf("writer synchronous = %s after a canceled transaction without flush, want 2 (FULL)", got)
	}
}

// killChildEnv names the database the child process of TestCommitWithoutFlushSurvivesKill
// writes to before it SIGKILLs itself.
const killChildEnv = "COVERGATE_TEST_FLUSH_KILL_DB"

// TestCommitWithoutFlushSurvivesKill: what a commit without flush promises is that it survives
// the death of the process (kill -9) — the outbox relies on it to re-send only the
// publications in flight. A child process (this test binary) commits without flush and
// SIGKILLs itself without closing the store; the commit is there when the file is reopened.
func TestCommitWithoutFlushSurvivesKill(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		s, err := Open(context.Background(), path, quiet())
		if err != nil {
			os.Exit(3)
		}
		if _, err := enqueueOne(store.WithoutFlush(context.Background()), s, "survivor"); err != nil {
			os.Exit(4)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // not reached
	}
	path := filepath.Join(t.TempDir(), "k.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitWithoutFlushSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL", err)
	}
	s := open(t, path)
	page, err := s.ListPublications(context.Background(), store.PublicationFilter{}, store.PageRequest{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].CorrelationID != "survivor" {
		t.Fatalf("after kill -9: %+v, want the publication committed without flush", page.Items)
	}
}

// TestOutcomeUpdatesArePrepared: the outbox's outcome updates (one transaction per delivered
// publication) run as statements prepared once on the writer, not compiled on every run; and a
// prepared update still obeys the lease (a stranger's MarkDelivered is a conflict).
func TestOutcomeUpdatesArePrepared(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "w.db"))
	for _, q := range sqlstore.PreparedWrites() {
		if s.wstmts.lookup(q) == nil {
			t.Errorf("not prepared on the writer: %s", q)
		}
	}
	ctx := context.Background()
	p, err := enqueueOne(ctx, s, "c")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.ClaimDue(ctx, "owner", now, time.Minute, 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mark := func(owner string) error {
		return s.InTx(store.WithoutFlush(ctx), func(ctx context.Context, tx store.Tx) error {
			return tx.MarkDelivered(ctx, p.ID, owner, "42", now)
		})
	}
	if err := mark("stranger"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("MarkDelivered by a stranger = %v, want ErrConflict", err)
	}
	if err := mark("owner"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPublication(ctx, p.ID); err != nil || got.Status != domain.PublicationDelivered || got.PartnerEventID != "42" {
		t.Fatalf("GetPublication = %+v, %v; want DELIVERED with ref 42", got, err)
	}
}
