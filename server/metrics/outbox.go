package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/covergate/covergate/server/store"
)

// OutboxCollector reports the outbox's depth and age, read from the store at scrape time (so
// every replica reports the shared truth, and nothing polls when nobody scrapes).
type OutboxCollector struct {
	reader  store.OutboxReader
	now     func() time.Time
	depth   *prometheus.Desc
	age     *prometheus.Desc
	healthy *prometheus.Desc
}

// NewOutboxCollector returns a collector over r.
func NewOutboxCollector(r store.OutboxReader, now func() time.Time) *OutboxCollector {
	return &OutboxCollector{
		reader: r, now: now,
		depth:   prometheus.NewDesc("covergate_outbox_publications", "Publications in the outbox by status.", []string{"status"}, nil),
		age:     prometheus.NewDesc("covergate_outbox_oldest_pending_age_seconds", "Age of the oldest pending publication (0 when none).", nil, nil),
		healthy: prometheus.NewDesc("covergate_outbox_stats_up", "1 when the outbox statistics could be read at scrape time.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.healthy
}

// Collect implements prometheus.Collector.
func (c *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := c.reader.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(stats.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(stats.Delivered), "delivered")
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(stats.Failed), "failed")
	age := 0.0
	if !stats.OldestPendingTime.IsZero() {
		age = c.now().Sub(stats.OldestPendingTime).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}

// InstrumentedStore measures every transaction of the wrapped store.
type InstrumentedStore struct {
	store.Store
	m *Metrics
}

// InstrumentStore wraps s so that InTx latency is recorded.
func (m *Metrics) InstrumentStore(s store.Store) store.Store {
	return &InstrumentedStore{Store: s, m: m}
}

// InTx runs fn in a transaction of the wrapped store and records its latency.
func (s *InstrumentedStore) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	start := time.Now()
	err := s.Store.InTx(ctx, fn)
	s.m.ObserveStoreTx(err, time.Since(start))
	return err
}
