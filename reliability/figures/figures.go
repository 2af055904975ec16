// Package figures records the measurements of the reliability suite: each is logged on the test
// and, when COVERGATE_RELIABILITY_FIGURES names a file, appended to it as one JSON line, so
// `make reliability` can print every figure as one table after the run (cmd/relfigures).
package figures

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// FileEnv names the JSON-lines file figures are appended to.
const FileEnv = "COVERGATE_RELIABILITY_FIGURES"

// Figure is one measurement next to its target.
type Figure struct {
	Suite  string `json:"suite"`
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target,omitempty"`
	Mode   string `json:"mode"`
}

// Record logs f on t and appends it to the figures file, if one is configured. The suite fails
// if the file cannot be written: a silently missing figure would make the report lie.
func Record(t testing.TB, suite, name, target string, format string, args ...any) {
	t.Helper()
	f := Figure{Suite: suite, Name: name, Value: fmt.Sprintf(format, args...), Target: target, Mode: string(CurrentMode())}
	t.Logf("FIGURE %s / %s = %s (target %s)", f.Suite, f.Name, f.Value, f.Target)
	path := os.Getenv(FileEnv)
	if path == "" {
		return
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("figures: %v", err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("figures: %v", err)
	}
	defer file.Close()
	if _, err := file.Write(append(b, '\n')); err != nil {
		t.Fatalf("figures: %v", err)
	}
}

// Mode is how much work the suite does: Full (`make reliability`) or CI (the reduced run).
type Mode string

// Modes, chosen by COVERGATE_RELIABILITY_MODE (default CI, so a plain `go test` stays short).
const (
	Full Mode = "full"
	CI   Mode = "ci"
)

// ModeEnv selects the mode.
const ModeEnv = "COVERGATE_RELIABILITY_MODE"

// CurrentMode reads ModeEnv.
func CurrentMode() Mode {
	if os.Getenv(ModeEnv) == string(Full) {
		return Full
	}
	return CI
}

// Pick returns full in Full mode, else ci.
func Pick[T any](full, ci T) T {
	if CurrentMode() == Full {
		return full
	}
	return ci
}
