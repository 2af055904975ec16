package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// auditor is a Scalepoint that, at every send, counts the publications it has already accepted
// whose DELIVERED is not yet committed: exactly what a kill -9 at that moment would make the
// next owner send again.
type auditor struct {
	st       store.Store
	mu       sync.Mutex
	accepted []string // publication ids, by payload
	ids      map[string]string
	worst    int
}

func (a *auditor) Publish(ctx context.Context, _ string, payload []byte) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	unrecorded := 0
	for _, id := range a.accepted {
		p, err := a.st.GetPublication(ctx, id)
		if err != nil {
			return "", err
		}
		if p.Status != domain.PublicationDelivered {
			unrecorded++
		}
	}
	a.worst = max(a.worst, unrecorded)
	a.accepted = append(a.accepted, a.ids[string(payload)])
	return strconv.Itoa(len(a.accepted)), nil
}

// TestResendWindowIsTheInFlightSends: each publication's DELIVERED is committed as soon as the
// partner accepted it, before the worker sends anything else, so a crash can only re-send what
// is in flight: never more than Concurrency − 1 accepted-but-unrecorded publications at the
// moment of another send (0 with the production setting, Concurrency 1).
func TestResendWindowIsTheInFlightSends(t *testing.T) {
	for engineName, dsn := range replicaDSNs(t) {
		for _, concurrency := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/concurrency %d", engineName, concurrency), func(t *testing.T) {
				st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				f := &fixture{store: st}
				ids := f.enqueue(t, 60)
				a := &auditor{st: st, ids: map[string]string{}}
				for _, id := range ids {
					a.ids[string(f.get(t, id).Payload)] = id
				}
				w := &outbox.Worker{Store: st, Publisher: a, Owner: "w", Concurrency: concurrency, Batch: 50}
				total := 0
				for total < len(ids) {
					n, err := w.RunOnce(context.Background())
					if err != nil || n == 0 {
						t.Fatalf("RunOnce = %d, %v after %d", n, err, total)
					}
					total += n
				}
				if len(a.accepted) != len(ids) {
					t.Fatalf("accepted %d, want %d", len(a.accepted), len(ids))
				}
				if a.worst > concurrency-1 {
					t.Fatalf("up to %d accepted publications were unrecorded at another send; a crash then re-sends them (bound %d)", a.worst, concurrency-1)
				}
			})
		}
	}
}
