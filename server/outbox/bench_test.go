package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/store"
)

// BenchmarkDeliver measures the outbox's own cost per publication on SQLite (claim, publish to an
// instant partner, mark delivered), batches of 50 with 4 deliveries in flight.
func BenchmarkDeliver(b *testing.B) {
	f := &fixture{clock: &clock{now: time.Now()}}
	st, err := openBench(b)
	if err != nil {
		b.Fatal(err)
	}
	f.store = st
	w := &outbox.Worker{Store: st, Publisher: &publisher{}, Owner: "bench"}
	for b.Loop() {
		b.StopTimer()
		f.enqueue(b, 50)
		b.StartTimer()
		if n, err := w.RunOnce(context.Background()); err != nil || n != 50 {
			b.Fatalf("RunOnce = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50), "ns/publication")
}

func openBench(b *testing.B) (store.Store, error) {
	st, err := openSQLite(b.TempDir() + "/bench.db")
	if err == nil {
		b.Cleanup(func() { _ = st.Close() })
	}
	return st, err
}
