// Package gatewayproc runs `covergate serve` (or any server binary) as a child process on free
// loopback ports, waits until it is ready and stops it — always, even when the benchmark fails.
package gatewayproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// APIKey is the key every benchmark gateway accepts, with every scope.
const APIKey = "covergate-bench-key"

// Process is a running server.
type Process struct {
	cmd     *exec.Cmd
	logFile *os.File
	done    chan error
	// GRPCAddr and HTTPAddr are where the gateway listens; ScalepointURL is its embedded
	// Scalepoint sandbox.
	GRPCAddr, HTTPAddr, ScalepointURL string
	// Started is when the process was executed; Ready when /readyz first answered 200.
	Started, Ready time.Time
}

// Options configures a gateway process.
type Options struct {
	Binary   string   // bin/covergate
	Database string   // sqlite:PATH or postgres://...
	LogDir   string   // where gateway.log goes
	Extra    []string // more serve flags
}

// FreePort returns a loopback address that was free a moment ago.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("gatewayproc: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartGateway runs `covergate serve` with the embedded sandbox and waits for /readyz.
func StartGateway(ctx context.Context, o Options) (*Process, error) {
	addrs := make([]string, 5)
	for i := range addrs {
		a, err := FreePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	args := append([]string{"serve",
		"--database", o.Database,
		"--grpc-addr", addrs[0], "--http-addr", addrs[1],
		"--partners", "sandbox",
		"--sandbox-etvas-addr", addrs[2], "--sandbox-avata-addr", addrs[3], "--sandbox-scalepoint-addr", addrs[4],
		"--api-keys", APIKey + ":*",
		"--log-format", "json",
	}, o.Extra...)
	p, err := Start(o.Binary, args, o.LogDir)
	if err != nil {
		return nil, err
	}
	p.GRPCAddr, p.HTTPAddr, p.ScalepointURL = addrs[0], addrs[1], "http://"+addrs[4]
	if err := p.WaitReady(ctx, "http://"+p.HTTPAddr+"/readyz", 30*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Start executes binary with args, its output appended to LogDir/<binary>.log.
func Start(binary string, args []string, logDir string) (*Process, error) {
	logFile, err := os.OpenFile(filepath.Join(logDir, filepath.Base(binary)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gatewayproc: log file: %w", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so an interrupted benchmark's terminal signal does not race our
	// orderly stop, and the kill below reaches nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{cmd: cmd, logFile: logFile, done: make(chan error, 1)}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("gatewayproc: start %s: %w", binary, err)
	}
	go func() { p.done <- cmd.Wait() }() // owned by p: Stop waits for it
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitReady polls url until it answers 200 (every 2 ms, to time start-up closely).
func (p *Process) WaitReady(ctx context.Context, url string, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("gatewayproc: exited before ready (%v); see %s", err, p.logFile.Name())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Now()
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("gatewayproc: not ready within %s; see %s", limit, p.logFile.Name())
}

// Stop sends SIGTERM, waits up to 30 s for an orderly exit, then kills.
func (p *Process) Stop() error {
	defer p.logFile.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("gatewayproc: %s exited: %w", p.cmd.Path, err)
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("gatewayproc: %s did not stop within 30s: killed", p.cmd.Path)
	}
}
