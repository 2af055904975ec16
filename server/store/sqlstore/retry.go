package sqlstore

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultMaxRetries bounds transaction re-runs on transient conflicts.
const DefaultMaxRetries = 10

// RetryTx runs attempt until it succeeds, fails with an error that
// retryable rejects, ctx ends or maxTries attempts were made. Short jittered
// exponential backoff spreads colliding writers apart.
func RetryTx(ctx context.Context, maxTries int, retryable func(error) bool, attempt func() error) error {
	if maxTries <= 0 {
		maxTries = DefaultMaxRetries
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 5 * time.Millisecond
	b.MaxInterval = 500 * time.Millisecond
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := attempt()
		if err != nil && !retryable(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(maxTries)), backoff.WithMaxElapsedTime(0))
	return err
}
