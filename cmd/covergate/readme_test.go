package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runnableMarker marks a README code block that TestReadmeExamples runs. It is an HTML comment,
// invisible on GitHub, on the line right before the block's opening fence.
const runnableMarker = "<!-- runnable -->"

// readmeBlock is one runnable shell block of README.md.
type readmeBlock struct {
	line int // line number of the opening fence
	text string
}

// runnableBlocks returns README's runnable blocks in document order.
func runnableBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks  []readmeBlock
		cur     *readmeBlock
		marked  bool
		lineNum int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNum++
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.TrimSpace(line) == runnableMarker:
			marked = true
		case marked && strings.HasPrefix(line, "```sh"):
			cur = &readmeBlock{line: lineNum}
			marked = false
		case strings.TrimSpace(line) != "":
			marked = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md: the block at line %d is never closed", cur.line)
	}
	return blocks
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestReadmeExamples runs every README block marked runnable, in order and in one shell (later
// blocks use the variables of earlier ones), against a live `bin/covergate serve` with the
// embedded sandboxes, exactly as a newcomer would after `make run` — only the ports differ, so
// that the test never collides with a gateway a developer is running. A block fails the test
// when a command in it fails: the blocks check what they promise with `jq -e`, `test` or
// `grep -q`.
func TestReadmeExamples(t *testing.T) {
	root := repoRoot(t)
	blocks := runnableBlocks(t, filepath.Join(root, "README.md"))
	if len(blocks) == 0 {
		t.Fatal("README.md has no block marked " + runnableMarker)
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README examples need %s on PATH: %v", tool, err)
		}
	}

	bin := filepath.Join(root, "bin", "covergate")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/covergate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ports := map[string]string{ // README's fixed addresses → this run's
		"8080": freeAddr(t), "9090": freeAddr(t), "9181": freeAddr(t), "9182": freeAddr(t), "9183": freeAddr(t),
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve",
		"--database", "sqlite:"+filepath.Join(dir, "covergate.db"),
		"--http-addr", ports["8080"], "--grpc-addr", ports["9090"],
		"--sandbox-etvas-addr", ports["9181"], "--sandbox-avata-addr", ports["9182"],
		"--sandbox-scalepoint-addr", ports["9183"])
	serve.Env = append(os.Environ(), "COVERGATE_API_KEYS=covergate-dev-key:*", "COVERGATE_PUBLISH_CLAIM_UPDATES=true")
	logs, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	serve.Stdout, serve.Stderr = logs, logs
	serve.Cancel = func() error { return serve.Process.Signal(os.Interrupt) }
	serve.WaitDelay = 10 * time.Second
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = serve.Wait() }()
	waitReady(t, "http://"+ports["8080"]+"/readyz", filepath.Join(dir, "gateway.log"))

	script := &strings.Builder{}
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		fmt.Fprintf(script, "echo '>>> README.md block %d (line %d)' >&2\n", i+1, b.line)
		script.WriteString(rewritePorts(b.text, ports))
	}
	// A deadline of its own, so that a hung example fails with its output instead of the whole
	// test binary timing out.
	runCtx, stop := context.WithTimeout(ctx, 6*time.Minute)
	defer stop()
	run := exec.CommandContext(runCtx, "bash", "-c", script.String())
	run.Dir = root
	run.WaitDelay = 5 * time.Second
	out, err := run.CombinedOutput()
	if err != nil {
		gw, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
		t.Fatalf("README examples failed: %v\n--- output (the last '>>>' line names the block) ---\n%s\n--- gateway log (tail) ---\n%s",
			err, out, tail(string(gw), 40))
	}
	t.Logf("ran %d README blocks", len(blocks))
	// Everything the gateway printed — its own lines, grpc-go's and grpc-gateway's (grpclog is
	// routed into slog) — is JSON, including the streams the examples cut short.
	gw, err := os.ReadFile(filepath.Join(dir, "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(gw), "\n")
	for _, line := range lines[:len(lines)-1] { // the last one is empty or still being written
		if !json.Valid([]byte(line)) {
			t.Errorf("gateway log line is not JSON: %q", line)
		}
	}
}

var addrPattern = regexp.MustCompile(`\b(?:localhost|127\.0\.0\.1):(8080|9090|9181|9182|9183)\b`)

// rewritePorts points README's fixed addresses at this run's listeners.
func rewritePorts(text string, ports map[string]string) string {
	return addrPattern.ReplaceAllStringFunc(text, func(m string) string {
		return ports[m[strings.LastIndexByte(m, ':')+1:]]
	})
}

func waitReady(t *testing.T, url, logPath string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	gw, _ := os.ReadFile(logPath)
	t.Fatalf("gateway not ready at %s\n%s", url, tail(string(gw), 40))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestRewritePorts(t *testing.T) {
	ports := map[string]string{"8080": "127.0.0.1:1", "9090": "127.0.0.1:2", "9183": "127.0.0.1:3"}
	for in, want := range map[string]string{
		"curl -s localhost:8080/healthz":     "curl -s 127.0.0.1:1/healthz",
		"http://127.0.0.1:9090/x":            "http://127.0.0.1:2/x",
		"curl localhost:9183/_sandbox/a":     "curl 127.0.0.1:3/_sandbox/a",
		"no address: 18080 and 8080 as text": "no address: 18080 and 8080 as text",
	} {
		if got := rewritePorts(in, ports); got != want {
			t.Errorf("rewritePorts(%q) = %q, want %q", in, got, want)
		}
	}
}
