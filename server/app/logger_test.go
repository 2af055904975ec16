package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestGRPCLoggerWritesJSONAtTheRightLevel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		log       func(l grpcLoggerAPI)
		wantLevel string // "" = filtered out at info
	}{
		{"grpc info is debug", func(l grpcLoggerAPI) { l.Infof("subchannel %d ready", 1) }, ""},
		{"warning", func(l grpcLoggerAPI) { l.Warning("slow") }, "WARN"},
		{"error", func(l grpcLoggerAPI) { l.Errorf("Marshal error: %v", "bad") }, "ERROR"},
		{"broken pipe is debug", func(l grpcLoggerAPI) {
			l.Errorf("Failed to send response chunk: %v", "write tcp 127.0.0.1:8080->127.0.0.1:5555: write: broken pipe")
		}, ""},
		{"reset is debug", func(l grpcLoggerAPI) {
			l.Errorln("Failed to write response:", "read: connection reset by peer")
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(GRPCLogger(NewLogger("json", "info", &buf)))
			out := strings.TrimSpace(buf.String())
			if tc.wantLevel == "" {
				if out != "" {
					t.Fatalf("logged at info level: %s", out)
				}
				var dbg bytes.Buffer
				tc.log(GRPCLogger(NewLogger("json", "debug", &dbg)))
				out = strings.TrimSpace(dbg.String())
				tc.wantLevel = "DEBUG"
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil || strings.Count(out, "\n") != 0 {
				t.Fatalf("not one JSON line: %q (%v)", out, err)
			}
			if rec["level"] != tc.wantLevel || rec["component"] != "grpc" || strings.HasSuffix(rec["msg"].(string), "\n") {
				t.Errorf("record = %v, want level %s", rec, tc.wantLevel)
			}
		})
	}
}

type grpcLoggerAPI interface {
	Infof(string, ...any)
	Warning(...any)
	Errorf(string, ...any)
	Errorln(...any)
}
