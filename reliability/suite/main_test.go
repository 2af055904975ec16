//go:build reliability

package suite

import (
	"fmt"
	"net/http"
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
	// still run. The test's own idle keep-alive connections (http.DefaultTransport, which the
	// apptest client and the sandbox-journal reads use) are closed first; a connection whose
	// reader has not noticed yet is the only thing ignored — by its http.persistConn frames,
	// not by "blocked on a socket", which would hide a leaked gateway listener or stream too.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if err := goleak.Find(
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	); err != nil {
		fmt.Fprintln(os.Stderr, "goroutine leak:", err)
		return 1
	}
	return 0
}
