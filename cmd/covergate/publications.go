package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// publicationsCommand is the operator's dead-letter workflow. It works on the database, like
// `covergate migrate` — not through the API — so it needs no API key and works when every
// gateway is down; running gateways deliver what it requeues (their workers poll the outbox).
// Each retry goes through the lifecycle, so the event log records it (publication.retried,
// source_channel "cli").
func publicationsCommand(stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:        "publications",
		ShortUsage:  "covergate publications list|retry [flags]",
		ShortHelp:   "List failed Scalepoint publications and send them again (dead letters).",
		Subcommands: []*ffcli.Command{publicationsListCommand(stdout, stderr), publicationsRetryCommand(stdout, stderr)},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

func databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database", engine.DefaultDSN, "store: "+engine.Accepted)
}

// openForOperator opens the store without migrating: an operator tool must not change the
// schema under running gateways, and a schema it does not know is refused.
func openForOperator(ctx context.Context, dsn string) (store.Store, error) {
	st, err := engine.Open(ctx, dsn, store.Options{SkipMigrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if v != store.LatestSchemaVersion {
		_ = st.Close()
		return nil, fmt.Errorf("the database schema is version %d, this covergate expects %d: run `covergate migrate` (or start a gateway of this version) first", v, store.LatestSchemaVersion)
	}
	return st, nil
}

// eachPublication calls fn for every publication matching f, page by page.
func eachPublication(ctx context.Context, st store.Store, f store.PublicationFilter, fn func(domain.Publication) error) error {
	for page := (store.PageRequest{Size: store.MaxPageSize}); ; {
		p, err := st.ListPublications(ctx, f, page)
		if err != nil {
			return fmt.Errorf("list publications: %w", err)
		}
		for _, pub := range p.Items {
			if err := fn(pub); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		page.After = p.Next
	}
}

func publicationsListCommand(stdout, _ io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("covergate publications list", flag.ContinueOnError)
	database := databaseFlag(fs)
	statusFlag := fs.String("status", "failed", "pending, delivered, failed or all")
	eventType := fs.String("event-type", "", "only this Scalepoint event type")
	return &ffcli.Command{
		Name:       "list",
		ShortUsage: "covergate publications list [--status failed|pending|delivered|all] [--event-type T] [--database DSN]",
		ShortHelp:  "List publications (FAILED by default) with attempts and last error, one per line.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("COVERGATE")},
		Exec: func(ctx context.Context, _ []string) error {
			status, err := parseStatus(*statusFlag)
			if err != nil {
				return err
			}
			st, err := openForOperator(ctx, *database)
			if err != nil {
				return err
			}
			defer st.Close()
			return eachPublication(ctx, st, store.PublicationFilter{Status: status, EventType: *eventType}, func(p domain.Publication) error {
				_, err := fmt.Fprintf(stdout, "%s\t%s\t%s\tattempts=%d\tupdated=%s\tlast_error=%q\n",
					p.ID, p.Status, p.EventType, p.Attempts, p.UpdateTime.UTC().Format(time.RFC3339), p.LastError)
				return err
			})
		},
	}
}

func publicationsRetryCommand(stdout, _ io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("covergate publications retry", flag.ContinueOnError)
	database := databaseFlag(fs)
	failed := fs.Bool("failed", false, "retry every FAILED publication")
	eventType := fs.String("event-type", "", "with --failed: only this Scalepoint event type")
	dryRun := fs.Bool("dry-run", false, "list what would be retried, change nothing")
	return &ffcli.Command{
		Name:       "retry",
		ShortUsage: "covergate publications retry [--database DSN] [--dry-run] (--failed [--event-type T] | ID...)",
		ShortHelp:  "Send FAILED publications again: PENDING, due now, fresh attempts, same correlationId.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("COVERGATE")},
		Exec: func(ctx context.Context, ids []string) error {
			if *failed == (len(ids) > 0) {
				return errors.New("publications retry: give --failed or publication ids, not both")
			}
			st, err := openForOperator(ctx, *database)
			if err != nil {
				return err
			}
			defer st.Close()
			if *failed {
				// Collect first, then requeue: paging the FAILED list while emptying it would skip rows.
				err := eachPublication(ctx, st, store.PublicationFilter{Status: domain.PublicationFailed, EventType: *eventType}, func(p domain.Publication) error {
					ids = append(ids, p.ID)
					return nil
				})
				if err != nil {
					return err
				}
			}
			lc := lifecycle.New(lifecycle.Config{})
			src := lifecycle.Source{Channel: lifecycle.ChannelCLI, Ref: "covergate publications retry"}
			retried, refused := 0, 0
			for _, id := range ids {
				if *dryRun {
					p, err := st.GetPublication(ctx, id)
					if err != nil {
						return fmt.Errorf("publication %s: %w", id, err)
					}
					fmt.Fprintf(stdout, "would retry %s\t%s\t%s\tlast_error=%q\n", p.ID, p.Status, p.EventType, p.LastError)
					continue
				}
				err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					_, err := lc.RetryPublication(ctx, tx, id, src)
					return err
				})
				var te *domain.TransitionError
				switch {
				case errors.As(err, &te):
					refused++
					fmt.Fprintf(stdout, "skipped %s: it is %s, only FAILED publications are retried\n", id, te.From)
				case err != nil:
					return fmt.Errorf("retry publication %s: %w (%d retried before it)", id, err, retried)
				default:
					retried++
					fmt.Fprintf(stdout, "retried %s\n", id)
				}
			}
			if *dryRun {
				fmt.Fprintf(stdout, "%d publication(s) would be retried\n", len(ids))
				return nil
			}
			fmt.Fprintf(stdout, "%d publication(s) requeued, %d skipped\n", retried, refused)
			if refused > 0 && !*failed {
				return fmt.Errorf("%d publication(s) were not FAILED", refused)
			}
			return nil
		},
	}
}

func parseStatus(s string) (domain.PublicationStatus, error) {
	switch strings.ToLower(s) {
	case "all", "":
		return "", nil
	case "pending":
		return domain.PublicationPending, nil
	case "delivered":
		return domain.PublicationDelivered, nil
	case "failed":
		return domain.PublicationFailed, nil
	}
	return "", fmt.Errorf("status %q: want pending, delivered, failed or all", s)
}
