// Package procstat reads a Linux process's CPU time and memory from /proc, to measure a server
// process from outside it.
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times. It is 100 on every Linux
// architecture Go supports (the kernel fixes it for user space ABI stability).
const clockTicks = 100

// CPU returns the user+system CPU time the process has used so far.
func CPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: read stat: %w", err)
	}
	// The command name (field 2) may contain spaces and parentheses: fields are counted after
	// the last ')'.
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, fmt.Errorf("procstat: malformed stat of %d", pid)
	}
	fields := strings.Fields(string(raw[end+1:]))
	// After ')': state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("procstat: short stat of %d", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procstat: parse cpu times of %d: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Memory is a process's resident set: now (VmRSS) and its peak so far (VmHWM), in bytes.
type Memory struct {
	RSS  int64
	Peak int64
}

// Mem reads the process's resident memory.
func Mem(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("procstat: open status: %w", err)
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("procstat: parse %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("procstat: read status: %w", err)
	}
	return m, nil
}
