#!/usr/bin/env bash
# Runs the client tests (`make test-clients`): TypeScript (type-check with tsc, then node --test)
# and Python (unittest on Debian's /usr/bin/python3 with apt's python3-grpcio/python3-protobuf).
# Every test file starts its own `covergate serve` from bin/covergate (`make build`; or
# $COVERGATE_BIN) on random ports with a temporary SQLite database and stops it afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

bin=${COVERGATE_BIN:-$root/bin/covergate}
if [ ! -x "$bin" ]; then
  echo "clients: $bin not found: run 'make build' first" >&2
  exit 1
fi
export COVERGATE_BIN=$bin

python=/usr/bin/python3
if ! "$python" -c 'import grpc, google.protobuf' 2>/dev/null; then
  echo "clients: $python cannot import grpc/protobuf (apt-get install python3-grpcio python3-protobuf)" >&2
  exit 1
fi

tools/scripts/clients-npm.sh

# Both suites always run, so one CI run reports every failure; the exit status covers both.
failed=()
echo "== TypeScript client tests"
(cd clients/typescript && npm test --silent) || failed+=(TypeScript)

echo "== Python client tests"
(
  cd clients/python
  PYTHONPATH="$PWD:$PWD/gen" PYTHONDONTWRITEBYTECODE=1 "$python" -m unittest discover -s tests -t . -v
) || failed+=(Python)

if [ ${#failed[@]} -gt 0 ]; then
  echo "clients: ${failed[*]} client tests failed" >&2
  exit 1
fi
