//go:build reliability

package suite

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covergate/covergate/bench/procstat"
	"github.com/covergate/covergate/reliability/figures"
	"github.com/covergate/covergate/reliability/gatewayproc"
	"github.com/covergate/covergate/server/apptest"
)

// readerKey holds policies.read only: enough to be a known caller, not enough to upload.
const readerKey = "reliability-reader-policies-read"

// TestStrangersUploads is issue 14's attack: 50 concurrent unauthenticated 24 MB claim-document
// uploads and 50 from a key without claims.write, against the real binary with the production
// upload limit. Every answer must be 401/403 and the gateway's resident set may grow by less than
// 100 MB (it grew from 75 MB to 3.6 GB before the gateway checked the key before the body).
func TestStrangersUploads(t *testing.T) {
	const each, size = 50, 24 << 20
	gw := gatewayproc.Start(t, gatewayproc.Options{
		Binary: gatewayBinary, Database: "sqlite:" + filepath.Join(t.TempDir(), "covergate.db"), Dir: t.TempDir(),
		Extra: []string{"--api-keys", gatewayproc.APIKey + ":*;" + readerKey + ":policies.read", "--max-upload-bytes", "26214400"},
	})
	body := apptest.UploadBody(size)
	time.Sleep(200 * time.Millisecond) // let start-up allocations settle before the baseline
	base, err := procstat.Mem(gw.PID())
	if err != nil {
		t.Fatal(err)
	}
	// Sample VmRSS while the attack runs; VmHWM (the kernel's peak) is read at the end too.
	var peak atomic.Int64
	peak.Store(base.RSS)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // owned by this test: stopped and awaited below
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if m, err := procstat.Mem(gw.PID()); err == nil && m.RSS > peak.Load() {
					peak.Store(m.RSS)
				}
			}
		}
	}()

	var mu sync.Mutex
	counts := map[int]int{}
	var failures []error
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 * each {
		header := map[string]string{}
		if i%2 == 1 {
			header["Authorization"] = "Bearer " + readerKey
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			code, _, err := apptest.RawPost(ctx, gw.Addrs.HTTP, "/v1/policies/0190a0a0-0000-7000-8000-000000000000/claim-documents", header, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			counts[code]++
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	end, err := procstat.Mem(gw.PID())
	if err != nil {
		t.Fatal(err)
	}
	if end.Peak > peak.Load() {
		peak.Store(end.Peak)
	}
	for _, err := range failures {
		t.Errorf("upload: %v", err)
	}
	if counts[http.StatusUnauthorized] != each || counts[http.StatusForbidden] != each {
		t.Errorf("answers by status = %v, want %d × 401 and %d × 403", counts, each, each)
	}
	growth := peak.Load() - base.RSS
	figures.Record(t, "strangers", "100 × 24 MB uploads without key / scope: answers 401 / 403", "50 / 50",
		"%d / %d in %s", counts[http.StatusUnauthorized], counts[http.StatusForbidden], elapsed.Round(time.Millisecond))
	figures.Record(t, "strangers", "gateway peak RSS growth during the attack", "< 100 MB",
		"%.1f MB (%.1f → peak %.1f MB)", float64(growth)/(1<<20), float64(base.RSS)/(1<<20), float64(peak.Load())/(1<<20))
	if growth >= 100<<20 {
		t.Errorf("peak RSS grew by %d MB, want < 100 MB", growth>>20)
	}
}
