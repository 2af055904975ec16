package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/store"
)

// TestGroupCommitPanicIsReported: a delivery whose function panics inside a committer does not
// take the process down unannounced, nor leave its caller waiting: the caller gets an error,
// Watch reports the dead committer (the supervisor then stops the gateway), and later
// deliveries still commit, in their own transactions.
func TestGroupCommitPanicIsReported(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewGroupCommit(openEngine(t, e.dsn(t)), GroupCommitConfig{})
			defer g.Close()
			watched := make(chan error, 1)
			go func() { watched <- g.Watch(context.Background()) }()
			err := g.InTx(context.Background(), func(context.Context, store.Tx) error { panic("handler bug") })
			if err == nil || !strings.Contains(err.Error(), "handler bug") {
				t.Fatalf("InTx of the panicking delivery = %v", err)
			}
			if err := <-watched; err == nil || !strings.Contains(err.Error(), "panicked: handler bug") {
				t.Fatalf("Watch = %v, want the committer's death", err)
			}
			d := &delivery{key: "after-the-panic"}
			if err := g.InTx(context.Background(), d.fn); err != nil {
				t.Fatalf("delivery after the committer died: %v", err)
			}
			assertStored(t, g.Store, []string{"after-the-panic"}, false)
		})
	}
	t.Run("shutdown", func(t *testing.T) {
		g := NewGroupCommit(openEngine(t, engines[0].dsn(t)), GroupCommitConfig{})
		defer g.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Watch(ctx); err != nil {
			t.Fatalf("Watch after shutdown = %v, want nil", err)
		}
	})
}
