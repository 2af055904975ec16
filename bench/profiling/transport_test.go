// Package profiling holds in-process benchmarks of the gateway's hot paths, for CPU profiles
// (the covergate-bench command measures the same paths from outside, process against process):
//
//	go test -run '^$' -bench . -benchtime 20000x -cpuprofile cpu.out ./bench/profiling
//	go tool pprof -top -cum cpu.out
package profiling

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/metadata"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apptest"
)

// onePolicy starts a gateway (SQLite) holding one policy and returns its id.
func onePolicy(b *testing.B) (*apptest.Server, string) {
	s := apptest.Start(b)
	return s, seedPolicy(b, s.App.Store())
}

// parallel runs call b.N times from 16 goroutines.
func parallel(b *testing.B, call func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRESTGetPolicy is GET /v1/policies/{id} through the gateway.
func BenchmarkRESTGetPolicy(b *testing.B) {
	s, id := onePolicy(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	// Before the gateway's cleanup: a dialed but unused connection would hold up its shutdown.
	b.Cleanup(c.CloseIdleConnections)
	url := s.HTTPURL + "/v1/policies/" + id
	parallel(b, func() error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// BenchmarkGRPCGetPolicy is PolicyService.GetPolicy over gRPC.
func BenchmarkGRPCGetPolicy(b *testing.B) {
	s, id := onePolicy(b)
	client := insurancev1.NewPolicyServiceClient(s.Conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+apptest.AllKey)
	parallel(b, func() error {
		_, err := client.GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: id})
		return err
	})
}
