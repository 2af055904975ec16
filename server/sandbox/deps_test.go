package sandbox_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestIndependentOfAdapters: the sandbox is a second, independent reading of the partner
// documents, so nothing under server/sandbox — tests included — may depend on the adapters in
// server/partners, directly or through another package. A sandbox built from the adapter's code
// agrees with the adapter by construction and hides exactly the bugs a real partner would find.
//
// `go test` puts its own toolchain first on PATH, so "go" here is the one running the test.
func TestIndependentOfAdapters(t *testing.T) {
	const module = "github.com/covergate/covergate"
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", module+"/server/sandbox/...")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	isPartner := func(p string) bool {
		return p == module+"/server/partners" || strings.HasPrefix(p, module+"/server/partners/")
	}
	var reached, offenders []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "|")
		if isPartner(pkg) {
			reached = append(reached, pkg)
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if isPartner(imp) {
				offenders = append(offenders, pkg+" imports "+imp)
			}
		}
	}
	if len(reached) == 0 && len(offenders) == 0 {
		if !strings.Contains(string(out), module+"/server/sandbox/scalepoint|") {
			t.Fatalf("go list did not list the sandbox packages:\n%s", out)
		}
		return
	}
	slices.Sort(offenders)
	slices.Sort(reached)
	t.Fatalf("server/sandbox depends on the partner adapters:\n  %s\npartner packages reached: %s",
		strings.Join(slices.Compact(offenders), "\n  "), strings.Join(slices.Compact(reached), ", "))
}
