package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

// seedFailed stores n publications Scalepoint refused for good and one delivered.
func seedFailed(t *testing.T, dsn string, n int) []string {
	t.Helper()
	ctx := context.Background()
	st, err := engine.Open(ctx, dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	err = st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		for i := range n + 1 {
			p, err := tx.EnqueuePublication(ctx, domain.Publication{
				Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "t"},
				EventType:   "case_created", CorrelationID: "corr-" + string(rune('a'+i)), Payload: []byte(`{"eventType":"case_created"}`),
			})
			if err != nil {
				return err
			}
			ids = append(ids, p.ID)
		}
		due, err := tx.ClaimDue(ctx, "w", time.Now().Add(time.Second), time.Minute, n+1)
		if err != nil {
			return err
		}
		for i, p := range due {
			if i == n {
				err = tx.MarkDelivered(ctx, p.ID, "w", "7", time.Now())
			} else {
				err = tx.MarkFailed(ctx, p.ID, "w", "scalepoint publish: rejected (http 400): unsupported currency", time.Now())
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func runCLIProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(runMainBinary(), args...)
	cmd.Env = []string{mainEnv + "=1"}
	cmd.Dir = t.TempDir() // a stray default database lands here, not in the source tree
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestPublicationsCLI: `covergate publications list` shows the dead letters with their last
// error; `retry --failed` requeues exactly the FAILED ones (dry run first changes nothing),
// records each retry in the event log with source "cli", and a second run finds none.
func TestPublicationsCLI(t *testing.T) {
	for name, dsn := range map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "covergate.db"),
		"postgres": pgtest.FreshDSN(t),
	} {
		t.Run(name, func(t *testing.T) {
			ids := seedFailed(t, dsn, 3)
			code, out := runCLIProcess(t, "publications", "list", "--database", dsn)
			if code != 0 || strings.Count(out, "\tFAILED\t") != 3 || !strings.Contains(out, "unsupported currency") || strings.Contains(out, ids[3]) {
				t.Fatalf("list: exit %d\n%s", code, out)
			}
			code, out = runCLIProcess(t, "publications", "retry", "--failed", "--dry-run", "--database", dsn)
			if code != 0 || !strings.Contains(out, "3 publication(s) would be retried") {
				t.Fatalf("dry run: exit %d\n%s", code, out)
			}
			if code, out = runCLIProcess(t, "publications", "list", "--database", dsn); code != 0 || strings.Count(out, "\tFAILED\t") != 3 {
				t.Fatalf("the dry run changed something:\n%s", out)
			}
			code, out = runCLIProcess(t, "publications", "retry", "--failed", "--database", dsn)
			if code != 0 || !strings.Contains(out, "3 publication(s) requeued, 0 skipped") {
				t.Fatalf("retry: exit %d\n%s", code, out)
			}
			code, out = runCLIProcess(t, "publications", "list", "--status", "pending", "--database", dsn)
			if code != 0 || strings.Count(out, "\tPENDING\t") != 3 || !strings.Contains(out, "attempts=0") {
				t.Fatalf("pending after retry: exit %d\n%s", code, out)
			}
			code, out = runCLIProcess(t, "publications", "retry", "--failed", "--database", dsn)
			if code != 0 || !strings.Contains(out, "0 publication(s) requeued") {
				t.Fatalf("second retry: exit %d\n%s", code, out)
			}
			// A named publication that is not FAILED is reported and the exit code says so.
			code, out = runCLIProcess(t, "publications", "retry", "--database", dsn, ids[3])
			if code != 1 || !strings.Contains(out, "it is DELIVERED") {
				t.Fatalf("retry of a delivered publication: exit %d\n%s", code, out)
			}
			st, err := engine.Open(context.Background(), dsn, store.Options{SkipMigrate: true, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			p, err := st.ListEvents(context.Background(), store.EventFilter{Types: []string{domain.EventPublicationRetried}, PageSize: 10})
			if err != nil || len(p.Items) != 3 {
				t.Fatalf("retry events: %d, %v", len(p.Items), err)
			}
			for _, e := range p.Items {
				var data map[string]any
				if err := json.Unmarshal(e.Data, &data); err != nil || data["source_channel"] != "cli" || e.Partner != domain.PartnerScalepoint {
					t.Fatalf("retry event %s (partner %s)", e.Data, e.Partner)
				}
			}
		})
	}
}

func TestPublicationsCLIRefusals(t *testing.T) {
	fresh := "sqlite:" + filepath.Join(t.TempDir(), "never-migrated.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"publications", "retry", "--database", fresh}, "give --failed or publication ids"},
		{[]string{"publications", "retry", "--failed", "--database", fresh, "0190a0a0-0000-7000-8000-000000000000"}, "give --failed or publication ids"},
		{[]string{"publications", "list", "--database", fresh}, "covergate migrate"},
		{[]string{"publications", "list", "--status", "lost", "--database", fresh}, `status "lost"`},
	} {
		code, out := runCLIProcess(t, tc.args...)
		if code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}
