package webhook

import (
	"testing"
	"time"
)

// TestWithinWindowFarTimestamps: timestamps more than 292 years from now (beyond what a
// time.Duration holds) are outside any window; before the fix the saturated, negated
// now.Sub(at) was negative and let them through — the developer-portal examples' 19786584376
// (seconds: the year 2597) among them.
func TestWithinWindowFarTimestamps(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	const window = 26 * time.Hour
	for _, tc := range []struct {
		name string
		ts   int64
		want bool
	}{
		{"now in ms", now.UnixMilli(), true},
		{"now in s", now.Unix(), true},
		{"window edge past", now.Add(-window).UnixMilli(), true},
		{"window edge future", now.Add(window).UnixMilli(), true},
		{"just past the window", now.Add(-window - time.Second).UnixMilli(), false},
		{"just ahead of the window", now.Add(window + time.Second).UnixMilli(), false},
		{"portal example 19786584376 (year 2597)", 19786584376, false},
		{"largest seconds value (year 5138)", secondsBelow - 1, false},
		{"far-future ms", 1 << 62, false},
		{"1973 in ms", secondsBelow, false},
		{"zero", 0, false},
		{"negative", -1, false},
	} {
		if got := withinWindow(tc.ts, now, window); got != tc.want {
			t.Errorf("%s: withinWindow(%d) = %v, want %v", tc.name, tc.ts, got, tc.want)
		}
	}
}
