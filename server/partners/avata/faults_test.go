package avata_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	sandbox "github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestTimeoutBoundedByCallerDeadline(t *testing.T) {
	e := newEnv(t)
	policyUUID := e.confirmNFT(t, e.user.Address())
	e.faults(sandboxkit.Faults{LatencyMS: 5000, Paths: []string{avata.PathPolicyDetails}})
	c, cancel := context.WithTimeout(ctx(t), time.Second)
	defer cancel()
	_, err := e.client.PolicyDetails(c, policyUUID)
	code, info := errorInfo(t, err)
	if code != codes.DeadlineExceeded || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT) {
		t.Fatalf("code %v info %+v", code, info)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cause = %v", err)
	}
}

func TestFiveHundredsThenSuccessOnIdempotentRead(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		failNext int
		wantErr  bool
		requests int
	}{
		{"two 503 then success", 503, 2, false, 3},
		{"two 502 then success", 502, 2, false, 3},
		{"three 503 exhaust the attempts", 503, 3, true, 3},
		{"500 is not retried", 500, 1, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			policyUUID := e.confirmNFT(t, e.user.Address())
			e.faults(sandboxkit.Faults{FailNext: tc.failNext, Status: tc.status, Paths: []string{avata.PathPolicyDetails}})
			pol, err := e.client.PolicyDetails(ctx(t), policyUUID)
			if tc.wantErr {
				if code, _ := errorInfo(t, err); code != codes.Unavailable {
					t.Fatalf("code = %v (%v)", code, err)
				}
			} else if err != nil || pol.UUID != policyUUID {
				t.Fatalf("PolicyDetails = %+v, %v", pol, err)
			}
			if n := e.count(avata.PathPolicyDetails); n != tc.requests {
				t.Fatalf("requests = %d, want %d", n, tc.requests)
			}
		})
	}
}

func TestNonIdempotentConfirmNotRetriedOn503(t *testing.T) {
	e := newEnv(t)
	p := e.proposeNFT(t, "3")
	e.faults(sandboxkit.Faults{FailNext: 1, Status: 503, Paths: []string{avata.PathNFTConfirm}})
	_, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address()))
	if code, _ := errorInfo(t, err); code != codes.Unavailable {
		t.Fatalf("code = %v", code)
	}
	if n := e.count(avata.PathNFTConfirm); n != 1 {
		t.Fatalf("confirm requests = %d, want 1 (a 503 may have been processed)", n)
	}
}

func TestRateLimitedHonoursRetryAfter(t *testing.T) {
	e := newEnv(t)
	p := e.proposeNFT(t, "3")
	// 429 means "not processed": even the non-idempotent confirm is retried,
	// after the partner's Retry-After.
	e.faults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 1, Paths: []string{avata.PathNFTConfirm}})
	conf, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address()))
	if err != nil || conf.ID == "" {
		t.Fatalf("ConfirmNFT = %+v, %v", conf, err)
	}
	var times []time.Time
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == avata.PathNFTConfirm {
			times = append(times, r.Time)
		}
	}
	if len(times) != 2 {
		t.Fatalf("confirm requests = %d, want 2", len(times))
	}
	// Ordering fact, not a speed assertion: the retry did not come before Retry-After.
	if gap := times[1].Sub(times[0]); gap < time.Second-50*time.Millisecond {
		t.Fatalf("retried after %s, before Retry-After", gap)
	}

	// A Retry-After beyond the caller's deadline ends the call at once.
	e.faults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 30, Paths: []string{avata.PathPolicyDetails}})
	c, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer cancel()
	_, err = e.client.PolicyDetails(c, conf.ID)
	code, info := errorInfo(t, err)
	if code != codes.ResourceExhausted || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_RATE_LIMITED) {
		t.Fatalf("code %v info %+v", code, info)
	}
	if aerr := asAvataError(t, err); aerr.HTTP.RetryAfter != 30*time.Second {
		t.Fatalf("RetryAfter = %s", aerr.HTTP.RetryAfter)
	}
}

func TestOutageOpensBreakerThenRecovers(t *testing.T) {
	const openFor = 300 * time.Millisecond
	e := newEnv(t, func(_ *sandbox.Config, c *avata.Config) {
		c.HTTP.MaxAttempts = 1
		c.HTTP.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: openFor, HalfOpenProbes: 1}
	})
	policyUUID := e.confirmNFT(t, e.user.Address())
	e.faults(sandboxkit.Faults{OutageSeconds: 60})

	for i := range 3 {
		_, err := e.client.PolicyDetails(ctx(t), policyUUID)
		if code, info := errorInfo(t, err); code != codes.Unavailable || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE) {
			t.Fatalf("call %d during outage: %v %+v", i, code, info)
		}
	}
	if s := e.client.BreakerState(); s != "open" {
		t.Fatalf("breaker = %s, want open", s)
	}
	before := len(e.sb.Kit().Requests())
	_, err := e.client.PolicyDetails(ctx(t), policyUUID)
	if code, info := errorInfo(t, err); code != codes.Unavailable || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN) {
		t.Fatalf("open breaker: %v %+v", code, info)
	}
	if after := len(e.sb.Kit().Requests()); after != before {
		t.Fatalf("open breaker let %d requests through", after-before)
	}

	e.faults(sandboxkit.Faults{}) // outage over
	// Poll until the breaker lets a probe through; the deadline only guards a broken test.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pol, err := e.client.PolicyDetails(ctx(t), policyUUID)
		if err == nil {
			if pol.UUID != policyUUID {
				t.Fatalf("details = %+v", pol)
			}
			break
		}
		if code, info := errorInfo(t, err); info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_CIRCUIT_OPEN) {
			t.Fatalf("while recovering: %v %+v", code, info)
		}
		if time.Now().After(deadline) {
			t.Fatal("breaker never recovered")
		}
		time.Sleep(openFor / 3)
	}
	if s := e.client.BreakerState(); s != "closed" {
		t.Fatalf("breaker = %s, want closed", s)
	}
}

func TestFourHundredsDoNotOpenBreaker(t *testing.T) {
	e := newEnv(t, func(_ *sandbox.Config, c *avata.Config) {
		c.HTTP.Breaker = partnerhttp.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Minute}
	})
	for range 5 {
		if _, err := e.client.PolicyDetails(ctx(t), "no-such-policy"); err == nil {
			t.Fatal("unknown policy found")
		}
	}
	if s := e.client.BreakerState(); s != "closed" {
		t.Fatalf("breaker = %s after 404s, want closed", s)
	}
}
