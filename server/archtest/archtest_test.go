// Package archtest holds the dependency rules of the code base as tests, so that a change that
// breaks a layering promise fails CI instead of waiting for a reviewer to notice.
package archtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// moduleRoot is the repository root (two levels above this file).
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// deps lists every package the given patterns depend on, themselves included.
func deps(t *testing.T, patterns ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, patterns...)...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %v: %v\n%s", patterns, err, stderr)
	}
	return strings.Fields(string(out))
}

func TestDependencyRules(t *testing.T) {
	const module = "github.com/covergate/covergate/"
	rules := []struct {
		name      string
		patterns  []string
		forbidden func(pkg string) bool
	}{
		{
			name:     "production and benchmark binaries carry no test code",
			patterns: []string{"./cmd/...", "./bench/cmd/..."},
			forbidden: func(p string) bool {
				return p == "testing" || strings.HasSuffix(p, "/pgtest") || strings.HasSuffix(p, "/storetest")
			},
		},
		{
			// Partner adapters and the outbox speak partner terms (partnerhttp.Error and its
			// kinds); apierror.FromPartner translates them to the API contract at the edge.
			name:     "partner packages and the outbox do not know the API contract",
			patterns: []string{"./server/partners/...", "./server/outbox"},
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, "gen/go/covergate") || p == "google.golang.org/grpc/codes" ||
					p == "google.golang.org/grpc/status" || p == "server/apierror"
			},
		},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			var bad []string
			for _, p := range deps(t, r.patterns...) {
				if r.forbidden(strings.TrimPrefix(p, module)) || r.forbidden(p) {
					bad = append(bad, p)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%v depend on forbidden packages:\n  %s", r.patterns, strings.Join(bad, "\n  "))
			}
		})
	}
}
