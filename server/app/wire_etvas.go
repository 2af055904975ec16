package app

import (
	"flag"
	"fmt"
	"github.com/covergate/covergate/server/supervise"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/server/jobs"
	"github.com/covergate/covergate/server/lifecycle/etvasrules"
	"github.com/covergate/covergate/server/webhook"
)

// The Etvas flow wiring: the webhook timestamp window and the background job worker that
// fetches Etvas profiles after purchases were acknowledged.

// etvasWiring holds what the Etvas flow parts share.
type etvasWiring struct {
	signal *jobs.Signal // wakes the job worker after a webhook queued a job
}

func (cfg *Config) registerEtvasFlags(fs *flag.FlagSet) {
	fs.DurationVar(&cfg.EtvasTimestampWindow, "etvas-timestamp-window", cfg.EtvasTimestampWindow,
		fmt.Sprintf("accepted age of a signed Etvas event's timestamp; at least Etvas's retry horizon (%s), so retries are answered, not refused", webhook.EtvasRetryHorizon))
	fs.DurationVar(&cfg.JobRetryInitial, "job-retry-initial", cfg.JobRetryInitial, "first retry delay of a failed background job (doubles per attempt, with jitter)")
	fs.DurationVar(&cfg.JobRetryMax, "job-retry-max", cfg.JobRetryMax, "longest retry delay of a background job")
	fs.IntVar(&cfg.JobMaxAttempts, "job-max-attempts", cfg.JobMaxAttempts, "attempts before a background job is marked FAILED")
}

// validateEtvas checks the Etvas flow settings. The inbox keeps every delivery key for good
// (nothing prunes it), so its memory is always longer than the timestamp window: a replay of a
// signed body is either a duplicate or too old. Should inbox pruning ever be added, its
// retention must be checked here to exceed the window.
func (cfg Config) validateEtvas() []string {
	var problems []string
	if cfg.EtvasTimestampWindow < webhook.EtvasRetryHorizon {
		problems = append(problems, fmt.Sprintf("etvas-timestamp-window %s: must be at least Etvas's retry horizon (%s), or Etvas's retries would be refused as stale",
			cfg.EtvasTimestampWindow, webhook.EtvasRetryHorizon))
	}
	if cfg.JobRetryInitial <= 0 || cfg.JobRetryMax < cfg.JobRetryInitial {
		problems = append(problems, "job-retry-initial must be positive and job-retry-max at least job-retry-initial")
	}
	if cfg.JobMaxAttempts < 1 {
		problems = append(problems, "job-max-attempts must be at least 1")
	}
	return problems
}

// now is the gateway's clock (Config.Clock in tests).
func (a *App) now() time.Time {
	if a.cfg.Clock != nil {
		return a.cfg.Clock()
	}
	return time.Now()
}

// jobSignal is the wake-up shared by the webhook services and the job worker.
func (a *App) jobSignal() *jobs.Signal {
	if a.etvas.signal == nil {
		a.etvas.signal = jobs.NewSignal()
	}
	return a.etvas.signal
}

// etvasBackground runs the background job worker (Etvas profile fetches). It is an owned
// worker with Run(ctx) like the outbox workers, so a supervisor can run it the same way.
func (a *App) etvasBackground() []supervise.Worker {
	rules := etvasrules.New(a.lifecycle)
	worker := &jobs.Worker{
		Store:        a.store,
		Handlers:     map[string]jobs.Handler{etvasrules.ProfileJobKind: rules.ProfileJob(a.partners.Etvas)},
		Owner:        "covergate-jobs-" + uuid.NewString(),
		RetryInitial: a.cfg.JobRetryInitial,
		RetryMax:     a.cfg.JobRetryMax,
		MaxAttempts:  a.cfg.JobMaxAttempts,
		Wake:         a.jobSignal(),
		Now:          a.now,
		Logger:       a.log.With("component", "jobs"),
	}
	return []supervise.Worker{{Name: "etvas-profile-jobs", Run: worker.Run}}
}
