// Package ratelimit holds the token buckets that keep one caller from using up the gateway: one
// per configured API key (or mTLS principal) and one per partner webhook route. The set of
// buckets is fixed when the gateway starts — an unknown key is refused by authentication before
// it is ever limited — so no caller can make the limiter's memory grow.
package ratelimit

import (
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
)

// Rule is one bucket's refill rate (requests per second) and burst. A zero or negative rate means
// unlimited.
type Rule struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether the rule limits nothing.
func (r Rule) Unlimited() bool { return r.PerSecond <= 0 }

// Kind names what a bucket limits, as the metric label and the QuotaFailure subject.
type Kind string

// Kinds of buckets.
const (
	KindAPIKey       Kind = "api_key"
	KindPartnerRoute Kind = "partner_route"
)

// Config configures a Limiter.
type Config struct {
	PerKey     Rule     // for every principal in Principals
	Principals []string // every configured API key's and mTLS subject's principal name
	PerRoute   Rule     // for every route in Routes
	Routes     []string // partner webhook routes
	Now        func() time.Time
	OnRefused  func(kind Kind, name string) // counts refusals (metrics); may be nil
}

// Limiter decides whether a call may go ahead. Its maps are written only in New; afterwards
// they are read concurrently and rate.Limiter is safe for concurrent use.
type Limiter struct {
	keys, routes map[string]*rate.Limiter
	keyRule      Rule
	routeRule    Rule
	now          func() time.Time
	onRefused    func(Kind, string)
}

// New builds the buckets. A nil *Limiter allows everything.
func New(cfg Config) *Limiter {
	l := &Limiter{keys: map[string]*rate.Limiter{}, routes: map[string]*rate.Limiter{},
		keyRule: cfg.PerKey, routeRule: cfg.PerRoute, now: cfg.Now, onRefused: cfg.OnRefused}
	if l.now == nil {
		l.now = time.Now
	}
	if !cfg.PerKey.Unlimited() {
		for _, p := range cfg.Principals {
			l.keys[p] = newBucket(cfg.PerKey)
		}
	}
	if !cfg.PerRoute.Unlimited() {
		for _, r := range cfg.Routes {
			l.routes[r] = newBucket(cfg.PerRoute)
		}
	}
	return l
}

func newBucket(r Rule) *rate.Limiter {
	burst := r.Burst
	if burst < 1 {
		burst = 1
	}
	return rate.NewLimiter(rate.Limit(r.PerSecond), burst)
}

// AllowKey takes one token from principal's bucket. A principal without a bucket (limits off,
// or a name that was not configured — authentication refused it already) is not limited.
// A refusal is a RESOURCE_EXHAUSTED status carrying RetryInfo and QuotaFailure.
func (l *Limiter) AllowKey(principal string) *status.Status {
	if l == nil {
		return nil
	}
	return l.take(l.keys[principal], KindAPIKey, principal, l.keyRule)
}

// AllowRoute takes one token from the partner route's bucket.
func (l *Limiter) AllowRoute(route string) *status.Status {
	if l == nil {
		return nil
	}
	return l.take(l.routes[route], KindPartnerRoute, route, l.routeRule)
}

func (l *Limiter) take(b *rate.Limiter, kind Kind, name string, rule Rule) *status.Status {
	if b == nil {
		return nil
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if r.OK() && delay == 0 {
		return nil
	}
	// Give the token back: a refused call must not push later callers further out.
	r.CancelAt(now)
	if !r.OK() || delay == rate.InfDuration {
		delay = time.Second
	}
	if l.onRefused != nil {
		l.onRefused(kind, name)
	}
	return Refusal(kind, name, rule, delay)
}

// Refusal is the status of a refused call: RESOURCE_EXHAUSTED, ErrorInfo RATE_LIMITED,
// RetryInfo (the delay until a token is available, rounded up to whole seconds as Retry-After
// is) and a QuotaFailure naming the bucket.
func Refusal(kind Kind, name string, rule Rule, delay time.Duration) *status.Status {
	secs := RetryAfterSeconds(delay)
	st := apierror.Status(codes.ResourceExhausted, insurancev1.ErrorReason_ERROR_REASON_RATE_LIMITED,
		"rate limit exceeded: retry after "+strconv.Itoa(secs)+" s",
		"limit", string(kind), "retry_after_seconds", strconv.Itoa(secs))
	withDetails, err := st.WithDetails(
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     string(kind) + ":" + name,
			Description: describe(rule),
		}}},
	)
	if err != nil {
		return st
	}
	return withDetails
}

func describe(r Rule) string {
	return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + " requests per second, burst " + strconv.Itoa(r.Burst)
}

// RetryAfterSeconds rounds a delay up to whole seconds, at least 1 (the Retry-After header has
// one-second resolution, and 0 would invite an immediate retry).
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// RetryAfter returns the RetryInfo delay of a status in whole seconds, or 0 when it has none.
func RetryAfter(st *status.Status) int {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return RetryAfterSeconds(ri.GetRetryDelay().AsDuration())
		}
	}
	return 0
}
