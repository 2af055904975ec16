// Command covergate runs the Covergate gateway and its tools:
//
//	covergate serve     run the gateway (gRPC + REST + webhooks)
//	covergate migrate   apply the store's schema migrations
//	covergate publications list|retry   failed Scalepoint publications (dead letters)
//	covergate sandbox   run the partner sandboxes, or send a signed partner event
//	covergate version   print the version
//
// Every flag of serve can also be set as an environment variable COVERGATE_<FLAG>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/peterbourgon/ff/v3/ffyaml"
	"google.golang.org/grpc/grpclog"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/sandbox"
	"github.com/covergate/covergate/server/store/engine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "covergate:", oneLine(err.Error()))
		}
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The sandbox command parses its own flags and subcommands (sandbox send ...); ffcli would
	// reject the flags it does not know.
	if len(args) > 0 && args[0] == "sandbox" {
		return sandbox.RunCommand(ctx, args[1:], stdout, stderr)
	}
	root := &ffcli.Command{
		Name:        "covergate",
		ShortUsage:  "covergate <command> [flags]",
		ShortHelp:   "Contract-first gRPC gateway for quotes, policies, claims, customers and partner events.",
		Subcommands: []*ffcli.Command{serveCommand(stdout, stderr), migrateCommand(stderr), publicationsCommand(stdout, stderr), maintenanceCommand(stderr), sandboxCommand(stdout, stderr), versionCommand(stdout)},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
	return root.ParseAndRun(ctx, args)
}

func serveCommand(stdout, stderr io.Writer) *ffcli.Command {
	cfg := app.Defaults()
	fs := flag.NewFlagSet("covergate serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.String("config", "", "YAML file of flag: value pairs (flags and COVERGATE_* variables override it)")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "covergate serve [--config FILE] [flags]",
		ShortHelp:  "Run the gateway.",
		FlagSet:    fs,
		Options: []ff.Option{
			ff.WithEnvVarPrefix("COVERGATE"),
			ff.WithConfigFileFlag("config"),
			ff.WithConfigFileParser(ffyaml.Parser),
		},
		Exec: func(ctx context.Context, _ []string) error {
			if *printConfig {
				if err := app.PrintConfig(stdout, fs); err != nil {
					return err
				}
				return cfg.Validate()
			}
			log := app.NewLogger(cfg.LogFormat, cfg.LogLevel, stderr)
			// grpc-go and grpc-gateway log through grpclog: into the same log, in its format.
			grpclog.SetLoggerV2(app.GRPCLogger(log))
			a, err := app.New(ctx, cfg, log)
			if err != nil {
				return fmt.Errorf("start-up failed: %w", err)
			}
			return a.Run(ctx)
		},
	}
}

func migrateCommand(stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("covergate migrate", flag.ContinueOnError)
	database := fs.String("database", engine.DefaultDSN, "store: "+engine.Accepted)
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "covergate migrate [--database DSN]",
		ShortHelp:  "Apply the store's schema migrations (serve also applies them at start).",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("COVERGATE")},
		Exec: func(ctx context.Context, _ []string) error {
			return engine.Migrate(ctx, *database, app.NewLogger("auto", "info", stderr))
		},
	}
}

func maintenanceCommand(stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("covergate maintenance vacuum", flag.ContinueOnError)
	database := fs.String("database", engine.DefaultDSN, "store: "+engine.Accepted)
	vacuum := &ffcli.Command{
		Name:       "vacuum",
		ShortUsage: "covergate maintenance vacuum [--database DSN]",
		ShortHelp:  "Physically remove old row versions that may still hold erased personal data.",
		LongHelp: "SQLite: VACUUM and truncate the WAL. PostgreSQL: VACUUM (FULL, ANALYZE) of every table that holds " +
			"personal data, then CHECKPOINT; each table is locked (ACCESS EXCLUSIVE) while it is rewritten.",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("COVERGATE")},
		Exec: func(ctx context.Context, _ []string) error {
			return engine.Vacuum(ctx, *database, app.NewLogger("auto", "info", stderr))
		},
	}
	return &ffcli.Command{
		Name:        "maintenance",
		ShortUsage:  "covergate maintenance vacuum [--database DSN]",
		ShortHelp:   "Operator tasks on the store.",
		Subcommands: []*ffcli.Command{vacuum},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
}

func sandboxCommand(stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "sandbox",
		ShortUsage: "covergate sandbox [flags] | covergate sandbox send <partner> <event> [flags]",
		ShortHelp:  "Run the partner sandboxes standalone, or deliver a signed partner event to a gateway.",
		// Listed for the help text; run dispatches it before ffcli parses anything.
		Exec: func(ctx context.Context, args []string) error {
			return sandbox.RunCommand(ctx, args, stdout, stderr)
		},
	}
}

func versionCommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "covergate version",
		ShortHelp:  "Print the version.",
		Exec: func(context.Context, []string) error {
			version := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok {
				version = info.Main.Version
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						version += " " + s.Value
					}
				}
			}
			_, err := fmt.Fprintln(stdout, "covergate", version)
			return err
		},
	}
}

// oneLine renders an error on one line (drivers such as pgx join one error per connection
// attempt with newlines): log collectors and operators read start-up failures line by line, and
// a cause split over lines gets separated from the "covergate:" that says what failed.
func oneLine(msg string) string {
	var parts []string
	for line := range strings.SplitSeq(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || (len(parts) > 0 && parts[len(parts)-1] == line) {
			continue
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, " ")
}
