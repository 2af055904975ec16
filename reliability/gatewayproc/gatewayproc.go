// Package gatewayproc runs the real covergate binary as a child process for the reliability
// suite: fixed loopback ports chosen once (so a restart after SIGKILL comes back on the same
// addresses and the same database), readiness by polling /readyz, SIGKILL and restart, and the
// resident set size read from /proc. Every process started is killed when the test ends, even
// on failure.
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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covergate/covergate/bench/procstat"
)

// APIKey is the key (all scopes) every gateway started here accepts.
const APIKey = "reliability-key-all-scopes"

// readyTimeout bounds one start (migrations on PostgreSQL included).
const readyTimeout = 60 * time.Second

// BinaryEnv names the prebuilt binary (`make reliability` sets it to bin/covergate).
const BinaryEnv = "COVERGATE_BIN"

// Binary returns the covergate binary to run: $COVERGATE_BIN, else a fresh build into dir.
func Binary(dir string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("gatewayproc: %s: %w", BinaryEnv, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("gatewayproc: %s: %w", BinaryEnv, err)
		}
		return abs, nil
	}
	out := filepath.Join(dir, "covergate")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/covergate/covergate/cmd/covergate")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gatewayproc: go build: %w\n%s", err, b)
	}
	return out, nil
}

// Options configures a gateway process.
type Options struct {
	Binary   string
	Database string   // DSN (sqlite:PATH or postgres://...)
	Dir      string   // working directory and log files
	Extra    []string // more `covergate serve` flags
	// SeparateSandbox runs the partner sandboxes as their own process (`covergate sandbox`)
	// and the gateway with --partners live against them, so the gateway's memory and CPU
	// figures do not include the fakes' state (the Avata fake keeps every proposal).
	SeparateSandbox bool
}

// Addrs are the fixed loopback addresses of one gateway and its embedded sandboxes.
type Addrs struct {
	GRPC, HTTP, Etvas, Avata, Scalepoint string
}

// HTTPURL is the gateway's base URL.
func (a Addrs) HTTPURL() string { return "http://" + a.HTTP }

// Process is one gateway, started and restarted on the same addresses and database.
type Process struct {
	opts  Options
	Addrs Addrs

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// Start picks free ports, starts the gateway, waits until it is ready and kills it when t ends.
func Start(t testing.TB, opts Options) *Process {
	t.Helper()
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{opts: opts, Addrs: Addrs{GRPC: ports[0], HTTP: ports[1], Etvas: ports[2], Avata: ports[3], Scalepoint: ports[4]}}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Logf("stop gateway: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log tail:\n%s", p.LogTail(4000))
		}
	})
	if opts.SeparateSandbox {
		if err := p.startSandbox(t); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Sandbox credentials (server/sandbox defaults) the live-mode gateway is configured with.
const (
	sandboxEtvasKey      = "sandbox-etvas-api-key"
	sandboxEtvasSecret   = "sandbox-etvas-event-secret"
	sandboxAvataKey      = "sandbox-avata-api-key"
	sandboxAvataBrand    = "covergate"
	sandboxAvataCallback = "sandbox-avata-callback-secret"
	// Hardhat account #0: a published development key, never holding funds.
	sandboxMerchantKey   = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	sandboxSPClient      = "covergate-sandbox"
	sandboxSPSecret      = "sandbox-scalepoint-client-secret"
	sandboxSPTenant      = "covergate"
	sandboxSPWebhookAuth = "sandbox-scalepoint-webhook-token"
)

// startSandbox runs `covergate sandbox` on the reserved addresses until the test ends.
func (p *Process) startSandbox(t testing.TB) error {
	logf, err := os.OpenFile(filepath.Join(p.opts.Dir, "sandbox.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("gatewayproc: sandbox log: %w", err)
	}
	cmd := exec.Command(p.opts.Binary, "sandbox", "--etvas-addr", p.Addrs.Etvas, "--avata-addr", p.Addrs.Avata,
		"--scalepoint-addr", p.Addrs.Scalepoint, "--gateway-url", p.Addrs.HTTPURL())
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.opts.Dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("gatewayproc: start sandbox: %w", err)
	}
	exited := make(chan struct{})
	go func() { // owned by the cleanup below, which waits for it
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for _, addr := range []string{p.Addrs.Etvas, p.Addrs.Avata, p.Addrs.Scalepoint} {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_sandbox/faults", nil)
			if resp, err := client.Do(req); err == nil {
				_ = resp.Body.Close()
				break
			}
			select {
			case <-exited:
				return errors.New("gatewayproc: sandbox exited before it was ready")
			case <-ctx.Done():
				return fmt.Errorf("gatewayproc: sandbox %s not ready after %s", addr, readyTimeout)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// freePorts reserves n loopback ports by listening on :0 and releasing them. Another process
// could take one in between; on this dedicated test machine that is a risk worth taking for
// stable addresses across restarts.
func freePorts(n int) ([]string, error) {
	var addrs []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("gatewayproc: reserve port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// walletTokenKey seals customers' Avata tokens in the suites' gateways (a test key, 32 bytes).
const walletTokenKey = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"

func (p *Process) args() []string {
	a := []string{"serve",
		"--grpc-addr", p.Addrs.GRPC, "--http-addr", p.Addrs.HTTP,
		"--database", p.opts.Database,
		"--api-keys", APIKey + ":*",
		"--log-format", "json", "--log-level", "warn",
		"--shutdown-timeout", "5s",
		// As in production: customers' wallet sessions survive the restarts the suites cause.
		"--wallet-token-key", walletTokenKey,
	}
	if p.opts.SeparateSandbox {
		a = append(a, "--partners", "live",
			"--etvas-url", "http://"+p.Addrs.Etvas, "--etvas-api-key", sandboxEtvasKey, "--etvas-event-secret", sandboxEtvasSecret,
			"--avata-url", "http://"+p.Addrs.Avata, "--avata-api-key", sandboxAvataKey, "--avata-brand-id", sandboxAvataBrand,
			"--avata-callback-secret", sandboxAvataCallback, "--avata-merchant-wallet-key", sandboxMerchantKey,
			"--scalepoint-url", "http://"+p.Addrs.Scalepoint, "--scalepoint-token-url", "http://"+p.Addrs.Scalepoint+"/connect/token",
			"--scalepoint-client-id", sandboxSPClient, "--scalepoint-client-secret", sandboxSPSecret,
			"--scalepoint-tenant", sandboxSPTenant, "--scalepoint-webhook-token", sandboxSPWebhookAuth)
	} else {
		a = append(a, "--partners", "sandbox",
			"--sandbox-etvas-addr", p.Addrs.Etvas, "--sandbox-avata-addr", p.Addrs.Avata, "--sandbox-scalepoint-addr", p.Addrs.Scalepoint)
	}
	return append(a, p.opts.Extra...)
}

func (p *Process) logPath() string { return filepath.Join(p.opts.Dir, "gateway.log") }

// Restart starts the gateway (it must not be running) and waits until /readyz answers 200.
func (p *Process) Restart() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return errors.New("gatewayproc: already running")
	}
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("gatewayproc: log file: %w", err)
	}
	p.starts++
	fmt.Fprintf(logf, "=== start %d ===\n", p.starts)
	cmd := exec.Command(p.opts.Binary, p.args()...)
	cmd.Dir = p.opts.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a SIGKILL of the test binary's group never leaves it behind
	// unnoticed, and we signal exactly this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		p.mu.Unlock()
		return fmt.Errorf("gatewayproc: start: %w", err)
	}
	exited := make(chan struct{})
	go func() { // owned by the process: ends when it exits, waited for through p.exited
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return p.waitReady(exited)
}

func (p *Process) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.Addrs.HTTPURL()+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("gatewayproc: gateway exited before it was ready:\n%s", p.LogTail(3000))
		case <-ctx.Done():
			return fmt.Errorf("gatewayproc: gateway not ready after %s:\n%s", readyTimeout, p.LogTail(3000))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL (no shutdown, no flush: a crash) and waits until the process is gone.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Stop ends the gateway gracefully (SIGTERM), forcing SIGKILL after 15 s. Stopping a stopped
// gateway is a no-op.
func (p *Process) Stop() error { return p.signal(syscall.SIGTERM) }

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gatewayproc: signal %v: %w", sig, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("gatewayproc: gateway ignored %v for 15s and was killed", sig)
	}
}

// PID of the running gateway (0 when stopped).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// RSSBytes is the gateway's resident set size (VmRSS from /proc).
func (p *Process) RSSBytes() (int64, error) {
	pid := p.PID()
	if pid == 0 {
		return 0, errors.New("gatewayproc: not running")
	}
	m, err := procstat.Mem(pid)
	return m.RSS, err
}

// CPUTime is the user+system CPU time the gateway has used (from /proc/PID/stat).
func (p *Process) CPUTime() (time.Duration, error) {
	pid := p.PID()
	if pid == 0 {
		return 0, errors.New("gatewayproc: not running")
	}
	return procstat.CPU(pid)
}

// LogTail returns the last n bytes of the gateway's log (all starts).
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// LogLines returns the lines of the gateway's log (all starts) for which keep is true.
func (p *Process) LogLines(keep func(line string) bool) []string {
	b, err := os.ReadFile(p.logPath())
	if err != nil {
		return []string{"(no log: " + err.Error() + ")"}
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line != "" && keep(line) {
			out = append(out, line)
		}
	}
	return out
}
