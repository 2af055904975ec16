package partnerhttp

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// maxRetryAfterHeader caps absurd Retry-After values before they overflow a Duration.
const maxRetryAfterHeader = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header value (delta-seconds or HTTP-date, RFC 9110
// §10.2.3) relative to now. Missing, malformed or past values yield 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfterHeader/time.Second) {
			return maxRetryAfterHeader
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfterHeader)
}

// delays yields retry waits: an exponential schedule (cenkalti/backoff) with full jitter,
// i.e. uniformly random in [0, interval], so concurrent callers spread out.
type delays struct {
	exp *backoff.ExponentialBackOff
}

func newDelays(base, maxInterval time.Duration) *delays {
	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval = base
	exp.MaxInterval = maxInterval
	exp.Multiplier = 2
	exp.RandomizationFactor = 0 // jitter is applied below, in full
	exp.Reset()
	return &delays{exp: exp}
}

func (d *delays) next() time.Duration {
	interval := d.exp.NextBackOff()
	if interval <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(interval) + 1))
}
