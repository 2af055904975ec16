package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/covergate/covergate/bench/gatewayproc"
	"github.com/covergate/covergate/bench/procstat"
)

// footprintRun is one start of the gateway.
type footprintRun struct {
	ColdReady time.Duration // exec → /readyz 200 on a new database (migrations included)
	WarmReady time.Duration // the same on the now existing database
	IdleRSS   int64         // VmRSS after settling
}

// benchFootprint starts the gateway (SQLite, embedded sandbox) several times and times exec to
// the first 200 from /readyz, then reads its resident memory after it has idled.
func benchFootprint(ctx context.Context, env *env, rep *report) error {
	for round := range env.starts {
		dir := filepath.Join(env.work, fmt.Sprintf("footprint-%d", round))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		opts := gatewayproc.Options{Binary: env.gateway, Database: "sqlite:" + filepath.Join(dir, "covergate.db"), LogDir: dir}
		var run footprintRun
		gw, err := gatewayproc.StartGateway(ctx, opts)
		if err != nil {
			return err
		}
		run.ColdReady = gw.Ready.Sub(gw.Started)
		if err := env.stop(gw); err != nil {
			return err
		}
		gw, err = gatewayproc.StartGateway(ctx, opts)
		if err != nil {
			return err
		}
		run.WarmReady = gw.Ready.Sub(gw.Started)
		time.Sleep(env.settle)
		mem, err := procstat.Mem(gw.PID())
		if err != nil {
			env.stop(gw)
			return err
		}
		run.IdleRSS = mem.RSS
		if err := env.stop(gw); err != nil {
			return err
		}
		env.logf("footprint round %d: ready %s (new db) / %s (existing db), idle RSS %.1f MB", round+1,
			run.ColdReady.Round(time.Millisecond), run.WarmReady.Round(time.Millisecond), mb(run.IdleRSS))
		rep.footprint = append(rep.footprint, run)
	}
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
