package ratelimit

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBuckets(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	var refused []string
	l := New(Config{
		PerKey: Rule{PerSecond: 2, Burst: 2}, Principals: []string{"key:a", "key:b"},
		PerRoute: Rule{PerSecond: 1, Burst: 1}, Routes: []string{"/webhooks/avata"},
		Now:       c.now,
		OnRefused: func(k Kind, name string) { refused = append(refused, string(k)+" "+name) },
	})
	for i := range 2 {
		if st := l.AllowKey("key:a"); st != nil {
			t.Fatalf("call %d within the burst refused: %v", i, st)
		}
	}
	st := l.AllowKey("key:a")
	if st == nil || st.Code() != codes.ResourceExhausted || RetryAfter(st) != 1 {
		t.Fatalf("over the burst: %v (retry after %d)", st, RetryAfter(st))
	}
	var quota *errdetails.QuotaFailure
	for _, d := range st.Details() {
		if q, ok := d.(*errdetails.QuotaFailure); ok {
			quota = q
		}
	}
	if quota == nil || quota.GetViolations()[0].GetSubject() != "api_key:key:a" {
		t.Fatalf("QuotaFailure: %v", st.Details())
	}
	// A refusal gives its reservation back: half a second later exactly one token is there.
	c.t = c.t.Add(500 * time.Millisecond)
	if st := l.AllowKey("key:a"); st != nil {
		t.Fatalf("after refill: %v", st)
	}
	if st := l.AllowKey("key:a"); st == nil {
		t.Fatal("second call after one token's refill passed")
	}
	// Buckets are independent; unknown names have none (authentication refused them already).
	if st := l.AllowKey("key:b"); st != nil {
		t.Fatalf("other key: %v", st)
	}
	if st := l.AllowKey("key:unknown"); st != nil || len(l.keys) != 2 {
		t.Fatalf("unknown principal: %v, %d buckets", st, len(l.keys))
	}
	if l.AllowRoute("/webhooks/avata") != nil || l.AllowRoute("/webhooks/avata") == nil {
		t.Fatal("partner route bucket")
	}
	if len(refused) != 3 {
		t.Fatalf("refusals counted: %v", refused)
	}
	// Off: no buckets at all.
	off := New(Config{Principals: []string{"key:a"}, Routes: []string{"/x"}})
	for range 1000 {
		if off.AllowKey("key:a") != nil || off.AllowRoute("/x") != nil {
			t.Fatal("limits off refused a call")
		}
	}
	var nilLimiter *Limiter
	if nilLimiter.AllowKey("key:a") != nil {
		t.Fatal("nil limiter refused")
	}
}
