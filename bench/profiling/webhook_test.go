package profiling

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
)

// BenchmarkWebhookIngest posts distinct signed Etvas App events (product.suspended for new
// contexts) from 64 concurrent senders to a gateway on SQLite, for profiling the ingestion path
// (go test -bench WebhookIngest -cpuprofile cpu.out ./bench/profiling).
func BenchmarkWebhookIngest(b *testing.B) {
	s := apptest.Start(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Before the gateway's cleanup: a dialed but unused connection would hold up its shutdown.
	b.Cleanup(c.CloseIdleConnections)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				body := fmt.Appendf(nil, `{"name":"product.suspended","timestamp":%d,"payload":{"productId":"p","contextId":"ctx-%d"}}`, time.Now().UnixMilli(), next.Load())
				req, _ := http.NewRequest("POST", s.HTTPURL+"/etvas/events", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(etvas.HeaderAPIKey, etvasbox.DefaultAPIKey)
				req.Header.Set(etvas.HeaderWebhookSignature, etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), body))
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
