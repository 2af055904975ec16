package procstat

import (
	"os"
	"testing"
	"time"
)

func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's tick-based accounting moves (10 ms ticks).
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		if now, err := CPU(pid); err == nil && now > before {
			break
		}
	}
	after, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU did not grow: %v → %v (%d)", before, after, x)
	}
	m, err := Mem(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("memory %+v: want 0 < RSS ≤ peak", m)
	}
}

func TestMissingProcess(t *testing.T) {
	for name, read := range map[string]func(int) error{
		"cpu": func(pid int) error { _, err := CPU(pid); return err },
		"mem": func(pid int) error { _, err := Mem(pid); return err },
	} {
		if err := read(1 << 30); err == nil {
			t.Errorf("%s of a missing process: no error", name)
		}
	}
}
