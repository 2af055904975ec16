package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mainEnv makes the test binary run main() instead of the tests: the start-up tests run the
// real command, exit code and stderr included, without building a second binary.
const mainEnv = "COVERGATE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"covergate"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runCovergate runs `covergate args...` as a child process and returns its exit code and
// stderr. COVERGATE_* variables of the environment are dropped so only args configure it.
func runCovergate(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(runMainBinary(), args...)
	cmd.Dir = t.TempDir()
	env := []string{mainEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COVERGATE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("run covergate: %v", err)
	return 0, ""
}

// serveArgs are the flags of a gateway that would start: random ports, a fresh SQLite file,
// the embedded sandbox on random loopback ports, only errors logged.
func serveArgs(t *testing.T, extra ...string) []string {
	args := []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--database", "sqlite:" + filepath.Join(t.TempDir(), "covergate.db"), "--api-keys", "startup-test-key:*",
		"--partners", "sandbox", "--sandbox-etvas-addr", "127.0.0.1:0", "--sandbox-avata-addr", "127.0.0.1:0",
		"--sandbox-scalepoint-addr", "127.0.0.1:0", "--log-level", "error"}
	return append(args, extra...)
}

// TestStartupFailures: every start-up failure ends the process with exit code 1 and exactly one
// line on stderr that names the cause — never a panic, never a cause spread over lines.
func TestStartupFailures(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"HTTP port in use", serveArgs(t, "--http-addr", taken.Addr().String()),
			[]string{"start-up failed", "listen HTTP on " + taken.Addr().String(), "address already in use"}},
		{"gRPC port in use", serveArgs(t, "--grpc-addr", taken.Addr().String()),
			[]string{"start-up failed", "listen gRPC on " + taken.Addr().String(), "address already in use"}},
		{"sandbox port in use", serveArgs(t, "--sandbox-avata-addr", taken.Addr().String()),
			[]string{"start-up failed", "sandbox", "address already in use"}},
		// Port 1 on loopback: nothing listens there, the connection is refused at once.
		{"PostgreSQL unreachable", serveArgs(t, "--database", "postgres://postgres@127.0.0.1:1/test?sslmode=disable"),
			[]string{"start-up failed", "open store", "127.0.0.1:1", "connection refused"}},
		{"invalid configuration", serveArgs(t, "--max-body-bytes", "1", "--log-format", "xml"),
			[]string{"invalid configuration", "max-body-bytes", "log-format"}},
		{"auto partners on a public address without credentials",
			append(serveArgs(t, "--http-addr", "0.0.0.0:0"), "--partners", "auto"),
			[]string{"partners auto", "http-addr 0.0.0.0:0", "--partners sandbox", "etvas-api-key", "scalepoint-webhook-token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runCovergate(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "covergate: ") {
				t.Fatalf("want one line starting with \"covergate: \", got %d:\n%s", len(lines), stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr %q does not contain %q", lines[0], w)
				}
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a":                     "a",
		"a:\n\tb\n\tb\n":        "a: b",
		"x\n\n  y\r\nz":         "x y z",
		"start: e1\n\te2\n\te1": "start: e1 e2 e1",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// runMainBinary is the test binary itself, which runs main() when mainEnv is set.
func runMainBinary() string { return os.Args[0] }
