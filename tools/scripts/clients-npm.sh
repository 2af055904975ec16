#!/usr/bin/env bash
# Installs clients/typescript's npm packages exactly as package-lock.json pins them (npm ci),
# unless node_modules already matches the lockfile.
set -euo pipefail
cd "$(dirname "$0")/../../clients/typescript"
if ! command -v npm >/dev/null; then
  echo "clients: npm is not installed (Node.js 20 or later is needed)" >&2
  exit 1
fi
# npm writes node_modules/.package-lock.json on install; an older one means a stale install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
