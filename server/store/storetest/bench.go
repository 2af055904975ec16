package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// BenchInboxAndEvent measures the webhook ingestion unit of work: one
// transaction that records an inbox delivery and appends one event, then
// commits durably. "serial" is one webhook at a time (commit latency);
// "parallel" runs GOMAXPROCS×4 concurrent webhooks (throughput without group
// commit).
func BenchInboxAndEvent(b *testing.B, s store.Store) {
	payload := []byte(`{"id":"evt","type":"product.purchased","data":{"contextId":"c-1","productId":"p-1","amount":"12.50"}}`)
	var seq atomic.Int64
	webhook := func(ctx context.Context, tx store.Tx) error {
		n := seq.Add(1)
		rec, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: fmt.Sprintf("bench-%d", n),
			EventType: "product.purchased", Payload: payload, Headers: map[string]string{"x-etvas-signature": "sig"}})
		if err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, domain.Event{Type: domain.EventPolicyActivated, Subject: "policies/" + rec.ID,
			Partner: domain.PartnerEtvas, Data: payload})
		return err
	}
	op := func(ctx context.Context) error { return s.InTx(ctx, webhook) }
	b.Run("serial", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("parallel", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	// What group commit can reach: 32 webhooks share one transaction and
	// one fsync. ns/op is per transaction; webhooks/s is the rate.
	const batch = 32
	b.Run("batch32", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				for range batch {
					if err := webhook(ctx, tx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "webhooks/s")
	})
}
