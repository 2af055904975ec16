// Package suite is Covergate's reliability suite (issue 9): crash, partner outage, slow partner,
// hostile inputs and soak, against the real binary (child processes, reliability/gatewayproc) or
// the real wiring (server/apptest).
//
// The tests carry the build tag `reliability`, so `go test ./...` (make test) does not run
// them: they take minutes and measure, and run through `make reliability` (full) or
// `make reliability-ci` (reduced), i.e. reliability/run.sh:
//
//	COVERGATE_RELIABILITY_MODE=ci|full go test -tags reliability ./reliability/suite
//
// COVERGATE_BIN names the covergate binary (built when unset); figures go to the test log and
// to $COVERGATE_RELIABILITY_FIGURES.
package suite
