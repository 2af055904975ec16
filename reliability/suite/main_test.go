//go:build reliability

package suite

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/reliability/gatewayproc"
)

// gatewayBinary is the covergate binary the child-process tests run; TestMain sets it once
// before any test starts and nothing changes it afterwards.
var gatewayBinary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "covergate-reliability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := gatewayproc.Binary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gatewayBinary = bin
	code := m.Run()
	if code != 0 {
		return code
	}
	// Every in-process gateway (apptest) has been shut down by now: nothing it started may
	// still run. Idle keep-alive connections of http.DefaultTransport (apptest's client) are
	// the test's, not the gateway's.
	if err := goleak.Find(
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	); err != nil {
		fmt.Fprintln(os.Stderr, "goroutine leak:", err)
		return 1
	}
	return 0
}
