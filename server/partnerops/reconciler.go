package partnerops

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultReconcileInterval is how often the Reconciler looks for due calls.
const DefaultReconcileInterval = 5 * time.Second

// Reconciler is the background worker that resolves partner calls whose outcome is unknown
// (the process died between the partner's answer and our commit, or the answer never came).
// The app starts it with the other workers and stops it by canceling Run's context.
type Reconciler struct {
	Ops      *Ops
	Interval time.Duration // default DefaultReconcileInterval
	Batch    int           // calls per round, default 20
	Logger   *slog.Logger
}

// Run resolves due calls every Interval until ctx ends; it returns nil then.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.Ops == nil {
		return errors.New("partnerops: reconciler without Ops")
	}
	interval, batch, log := r.Interval, r.Batch, r.Logger
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	if batch <= 0 {
		batch = 20
	}
	if log == nil {
		log = r.Ops.cfg.Logger
	}
	timer := time.NewTimer(0) // a restart looks at once: a crash leaves calls behind
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		n, err := r.Ops.ReconcileDue(ctx, batch)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "partner call reconciliation round failed", "error", err)
		}
		next := interval
		if n == batch && err == nil {
			next = 0
		}
		timer.Reset(next)
	}
}
