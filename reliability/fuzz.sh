#!/usr/bin/env bash
# Runs the fuzz targets one after another (go test -fuzz takes one target at a time).
#   FUZZTIME  time per target (default 20s)
#   FUZZ_SET  all (default) or ci (the subset the reduced CI run fuzzes; every other target's
#             seed corpus still runs as a plain test in `make test`)
# A crasher is written by Go to testdata/fuzz/<Target>/ next to the code: commit it and it runs
# as a regression test in `make test` from then on. Each target's exec count is appended to
# $COVERGATE_RELIABILITY_FIGURES (if set) for the report.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
FUZZ_SET="${FUZZ_SET:-all}"

# package target in-ci-subset
targets=(
  "./server/webhook FuzzVerifierMiddleware ci"
  "./server/webhook FuzzEtvasAppDecode ci"
  "./server/webhook FuzzEtvasPortalDecode -"
  "./server/webhook FuzzAvataCallbackDecode -"
  "./server/webhook FuzzScalepointEventDecode -"
  "./server/partners/etvas FuzzVerifyWebhookSignature -"
  "./server/partners/etvas FuzzRequestSignature ci"
  "./server/partners/avata FuzzParseCallback ci"
  "./server/partners/avata FuzzVerifyCallbackSignature -"
  "./server/partners/avata FuzzNumberToDecimal -"
  "./server/ethsign FuzzRecoverAddress ci"
  "./server/ethsign FuzzNormalizeAddress -"
  "./server/partners/scalepoint FuzzParseEvent -"
  "./server/partners/scalepoint FuzzVerifyWebhookAuth -"
  "./server/domain FuzzParseDecimal -"
  "./server/domain FuzzDecimalFromFloatLiteral ci"
)

failed=0
printf '%-34s %-28s %12s  %s\n' package target execs result
for entry in "${targets[@]}"; do
  read -r pkg name subset <<<"$entry"
  if [ "$FUZZ_SET" = ci ] && [ "$subset" != ci ]; then continue; fi
  log=$(mktemp)
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
    result=ok
  else
    result=FAIL
    failed=1
    cat "$log" >&2
  fi
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
  rm -f "$log"
  printf '%-34s %-28s %12s  %s\n' "$pkg" "$name" "${execs:-?}" "$result"
  if [ -n "${COVERGATE_RELIABILITY_FIGURES:-}" ]; then
    mode=full; [ "$FUZZ_SET" = ci ] && mode=ci
    printf '{"suite":"fuzz","name":"%s (%s)","value":"%s execs in %s: %s","target":"no crasher","mode":"%s"}\n' \
      "$name" "${pkg#./}" "${execs:-?}" "$FUZZTIME" "$result" "$mode" >>"$COVERGATE_RELIABILITY_FIGURES"
  fi
done
exit "$failed"
