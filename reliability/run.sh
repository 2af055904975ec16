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
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
table="$(go run ./reliability/cmd/relfigures -revision "$revision" -mode "$mode" -seconds "$((SECONDS - start))" "$COVERGATE_RELIABILITY_FIGURES")" || status=1
printf '%s\n' "$table"
if [ -n "${RELIABILITY_FIGURES_OUT:-}" ]; then
  printf '%s\n' "$table" >"$RELIABILITY_FIGURES_OUT"
fi
# RELIABILITY_DOC=docs/reliability.md (make reliability sets it) replaces the figures of this mode
# between its markers, so the document always shows a run and the revision it measured.
if [ -n "${RELIABILITY_DOC:-}" ] && [ "$status" = 0 ]; then
  begin="<!-- reliability-figures:$mode:begin -->" end="<!-- reliability-figures:$mode:end -->"
  if grep -qF "$begin" "$RELIABILITY_DOC" && grep -qF "$end" "$RELIABILITY_DOC"; then
    tmp=$(mktemp)
    printf '%s\n' "$table" >"$tmp.table"
    awk -v b="$begin" -v e="$end" -v t="$tmp.table" '
      $0 == b { print; while ((getline line < t) > 0) print line; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$RELIABILITY_DOC" >"$tmp" && mv "$tmp" "$RELIABILITY_DOC"
    rm -f "$tmp.table"
    echo "== figures written to $RELIABILITY_DOC ($mode)"
  else
    echo "reliability: $RELIABILITY_DOC has no $begin / $end markers" >&2
    status=1
  fi
fi
exit "$status"
