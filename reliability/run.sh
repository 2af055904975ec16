#!/usr/bin/env bash
# The reliability suite (issue 9): `reliability/run.sh full` (make reliability) or
# `reliability/run.sh ci` (make reliability-ci, the reduced run inside .ci/run, < 5 min).
# Needs PostgreSQL on 127.0.0.1:5432 (or COVERGATE_TEST_POSTGRES_DSN) and bin/covergate
# (COVERGATE_BIN; built by the make targets). Prints every figure as one table at the end;
# RELIABILITY_FIGURES_OUT=FILE keeps the table.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-ci}"
case "$mode" in
  full) fuzz_set=all; fuzztime="${FUZZTIME:-30s}" ;;
  ci) fuzz_set=ci; fuzztime=20s ;;
  *) echo "usage: reliability/run.sh full|ci" >&2; exit 2 ;;
esac
export COVERGATE_RELIABILITY_MODE="$mode"
COVERGATE_RELIABILITY_FIGURES="$(mktemp)"
export COVERGATE_RELIABILITY_FIGURES
trap 'rm -f "$COVERGATE_RELIABILITY_FIGURES"' EXIT

status=0
start=$SECONDS
echo "== reliability suites ($mode): crash, outage, slow partner, hostile inputs, soak"
go vet -tags reliability ./reliability/... || status=1
go test -tags reliability -count=1 -timeout 30m ./reliability/... || status=1
echo "== fuzzing ($fuzz_set targets, $fuzztime each)"
FUZZ_SET="$fuzz_set" FUZZTIME="$fuzztime" reliability/fuzz.sh || status=1

echo
echo "== reliability figures ($mode, $((SECONDS - start)) s)"
table="$(go run ./reliability/cmd/relfigures "$COVERGATE_RELIABILITY_FIGURES")" || status=1
printf '%s\n' "$table"
if [ -n "${RELIABILITY_FIGURES_OUT:-}" ]; then
  printf '%s\n' "$table" >"$RELIABILITY_FIGURES_OUT"
fi
exit "$status"
