#!/usr/bin/env bash
# `make lint-openapi`: Redocly CLI and Spectral (versions pinned in tools/openapi-lint/package.json
# and its lockfile, installed by `npm ci` into the git-ignored tools/openapi-lint/node_modules) lint
# the OpenAPI 3.1 and v2 documents the gateway serves. gen/openapi/*.json are exactly those bytes:
# server/gateway embeds them (gen/openapi/embed.go) and serves them unchanged. Rules switched off
# are in tools/openapi-lint/redocly.yaml and .spectral.yaml, each with its reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tools/openapi-lint"
if ! command -v npm >/dev/null; then
  echo "lint-openapi: npm is not installed (Node.js 20.19 or later is needed)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
docs=("$root/gen/openapi/openapi.json" "$root/gen/openapi/swagger.json")
status=0
echo "== Redocly"
npx --no-install redocly lint --config redocly.yaml --max-problems 1000 "${docs[@]}" || status=1
echo "== Spectral"
for d in "${docs[@]}"; do
  npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity=warn "$d" || status=1
done
exit $status
