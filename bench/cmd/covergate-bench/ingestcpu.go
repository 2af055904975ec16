package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/covergate/covergate/bench/procstat"
)

// ingestApplicationName names the gateway's PostgreSQL sessions in the ingestion benchmark, so
// that their server processes can be found in pg_stat_activity and measured.
const ingestApplicationName = "covergate-bench-ingest"

// cpuMeter reads the CPU time used so far by the gateway and by the PostgreSQL backends serving
// it: on this shared machine throughput swings with other load, while CPU per event is what a
// change to the ingestion path moves.
type cpuMeter struct {
	gateway  int
	backends []int // none on SQLite
}

// newCPUMeter finds the gateway's backends (dsn is the server's, "" on SQLite); call it after
// the warm-up, when the pool's connections exist.
func newCPUMeter(ctx context.Context, gatewayPID int, dsn string) (cpuMeter, error) {
	m := cpuMeter{gateway: gatewayPID}
	if dsn == "" {
		return m, nil
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return m, fmt.Errorf("ingest: find backends: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, ingestApplicationName)
	if err != nil {
		return m, fmt.Errorf("ingest: find backends: %w", err)
	}
	m.backends, err = pgx.CollectRows(rows, pgx.RowTo[int])
	return m, err
}

// read returns the CPU time used so far by the gateway and by its backends. A backend that has
// gone since (a pool connection closed) counts no more.
func (m cpuMeter) read() (gateway, db time.Duration) {
	gateway, _ = procstat.CPU(m.gateway)
	for _, pid := range m.backends {
		if c, err := procstat.CPU(pid); err == nil {
			db += c
		}
	}
	return gateway, db
}
