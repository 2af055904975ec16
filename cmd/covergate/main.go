// Command covergate runs the Covergate gateway and its tools:
//
//	covergate serve     run the gateway (gRPC + REST + webhooks)
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
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/covergate/covergate/server/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "covergate:", err)
		}
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &ffcli.Command{
		Name:        "covergate",
		ShortUsage:  "covergate <command> [flags]",
		ShortHelp:   "Contract-first gRPC gateway for quotes, policies, claims, customers and partner events.",
		Subcommands: []*ffcli.Command{serveCommand(stderr), versionCommand(stdout)},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
	return root.ParseAndRun(ctx, args)
}

func serveCommand(stderr io.Writer) *ffcli.Command {
	cfg := app.Defaults()
	fs := flag.NewFlagSet("covergate serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "covergate serve [flags]",
		ShortHelp:  "Run the gateway.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("COVERGATE")},
		Exec: func(ctx context.Context, _ []string) error {
			log := app.NewLogger(cfg.LogFormat, cfg.LogLevel, stderr)
			a, err := app.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			return a.Run(ctx)
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
