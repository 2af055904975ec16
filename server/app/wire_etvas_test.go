package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
)

// TestEtvasConfigValidation: a timestamp window shorter than Etvas's retry horizon would refuse
// Etvas's own retries as stale, so the configuration is refused at start; so are job retry
// settings that cannot work.
func TestEtvasConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*app.Config)
		want   string // "" = valid
	}{
		{"defaults", func(*app.Config) {}, ""},
		{"window at the retry horizon", func(c *app.Config) { c.EtvasTimestampWindow = 24 * time.Hour }, ""},
		{"window shorter than the retry horizon", func(c *app.Config) { c.EtvasTimestampWindow = 5 * time.Minute }, "etvas-timestamp-window"},
		{"no retry delay", func(c *app.Config) { c.JobRetryInitial = 0 }, "job-retry-initial"},
		{"max below initial", func(c *app.Config) { c.JobRetryMax = time.Second; c.JobRetryInitial = time.Minute }, "job-retry-max"},
		{"no attempts", func(c *app.Config) { c.JobMaxAttempts = 0 }, "job-max-attempts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := app.Defaults()
			tt.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	if d := app.Defaults(); d.EtvasTimestampWindow != 26*time.Hour {
		t.Fatalf("default window %s, want 26h", d.EtvasTimestampWindow)
	}
}
