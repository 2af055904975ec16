// Package scalepointpoll pulls Scalepoint events with the EventApi's long-poll receive endpoint
// and feeds them to the same processing as the webhook, resuming after a restart from the last
// event id it stored. Processing deduplicates by event id, so an event delivered again (after a
// crash between processing and checkpointing, or also pushed to the webhook) has no second
// effect.
package scalepointpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// DefaultCheckpoint is the checkpoint name of the consumer's position.
const DefaultCheckpoint = "scalepoint.receive"

// Receiver is the part of *scalepoint.Client the consumer uses.
type Receiver interface {
	Receive(ctx context.Context, lastEventID string) (scalepoint.Page, error)
}

// Config configures a Consumer.
type Config struct {
	Client Receiver
	Store  store.Store
	// Process applies one event (the webhook service's path). An error stops the page: the event
	// is retried after a backoff, and its successors wait for it, preserving order.
	Process func(ctx context.Context, ev scalepoint.Event) error
	// Checkpoint names the stored position (default DefaultCheckpoint).
	Checkpoint string
	Logger     *slog.Logger
	// MinBackoff and MaxBackoff bound the wait after a failure (defaults 500 ms and 1 min).
	MinBackoff, MaxBackoff time.Duration
}

// Consumer is the long-poll loop. It owns no goroutine: Run blocks until ctx ends.
type Consumer struct {
	cfg Config
}

// New checks cfg and returns a Consumer.
func New(cfg Config) (*Consumer, error) {
	if cfg.Client == nil || cfg.Store == nil || cfg.Process == nil {
		return nil, errors.New("scalepointpoll: Client, Store and Process are required")
	}
	if cfg.Checkpoint == "" {
		cfg.Checkpoint = DefaultCheckpoint
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	return &Consumer{cfg: cfg}, nil
}

// Run polls until ctx ends (then it returns nil). Failures — Scalepoint unreachable, a refused
// token, an event that cannot be applied, the store — are logged and retried with exponential
// backoff; they never end the loop.
func (c *Consumer) Run(ctx context.Context) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = c.cfg.MinBackoff, c.cfg.MaxBackoff
	var last string
	loaded := false
	for ctx.Err() == nil {
		var err error
		if !loaded {
			if last, err = c.position(ctx); err == nil {
				loaded = true
			}
		}
		if err == nil {
			last, err = c.pollOnce(ctx, last)
		}
		if err == nil {
			b.Reset()
			continue
		}
		if ctx.Err() != nil {
			break
		}
		wait := b.NextBackOff()
		c.cfg.Logger.WarnContext(ctx, "scalepoint poll failed; retrying", "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// position reads the stored last event id ("" before the first event).
func (c *Consumer) position(ctx context.Context) (string, error) {
	cp, err := c.cfg.Store.GetCheckpoint(ctx, c.cfg.Checkpoint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("scalepointpoll: read checkpoint: %w", err)
	}
	return cp.Value, nil
}

// pollOnce receives one page after last, processes its events in order and stores the position
// after each; it returns the new position (the last event stored).
func (c *Consumer) pollOnce(ctx context.Context, last string) (string, error) {
	page, err := c.cfg.Client.Receive(ctx, last)
	if err != nil {
		return last, fmt.Errorf("scalepointpoll: receive after %q: %w", last, err)
	}
	for _, ev := range page.Events {
		if err := c.cfg.Process(ctx, ev); err != nil {
			return last, fmt.Errorf("scalepointpoll: process event %s: %w", ev.ID, err)
		}
		if err := c.checkpoint(ctx, ev.ID); err != nil {
			return last, fmt.Errorf("scalepointpoll: store checkpoint %s: %w", ev.ID, err)
		}
		last = ev.ID
	}
	return last, nil
}

// checkpointTimeout bounds the checkpoint write that follows a processed event.
const checkpointTimeout = 5 * time.Second

// checkpoint stores id as the position. It runs even when ctx was canceled meanwhile (shutdown
// right after processing), so a restart does not fetch the event again; a restart would still
// be harmless, as processing deduplicates by event id.
func (c *Consumer) checkpoint(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	return c.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetCheckpoint(ctx, c.cfg.Checkpoint, id)
		return err
	})
}
