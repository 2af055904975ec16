#!/usr/bin/env bash
# Installs or starts what the tests need, so that `make test` works on a fresh machine exactly as
# it does in CI (.ci/run runs the same targets). Usage: prereqs.sh test|postgres|clients.
#   test:    PostgreSQL on 127.0.0.1:5432 with a database `test` (the PostgreSQL store tests never
#            skip), and Chromium (the /docs and browser tests drive a headless Chromium).
#   clients: Debian's protoc + grpc_python_plugin and python3-grpcio/python3-protobuf (the Python
#            client), Node.js 20+ with npm (the TypeScript client).
# Packages come from Debian (apt-get, as root). Without root, it names the one command to run.
set -euo pipefail

log() { printf '== %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "prereqs: missing $*; run: sudo apt-get install -y $*" >&2
    exit 1
  fi
  log "installing $*"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

postgres_dsn_set() { [ -n "${COVERGATE_TEST_POSTGRES_DSN:-}" ]; }

ensure_postgres() {
  if postgres_dsn_set; then
    return # the developer points the tests at their own server
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    ensure_test_database
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$(id -u)" != 0 ]; then
    echo "prereqs: PostgreSQL is not running on 127.0.0.1:5432; run: sudo pg_ctlcluster --skip-systemctl-redirect $version main start" >&2
    exit 1
  fi
  log "starting PostgreSQL $version"
  ensure_trust_auth "$version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break
    sleep 0.5
  done
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "prereqs: PostgreSQL did not start on 127.0.0.1:5432" >&2
    exit 1
  fi
  ensure_test_database
}

# ensure_trust_auth lets the local test user in without a password (a fresh Debian cluster asks
# for one over TCP); only loopback connections are affected.
ensure_trust_auth() {
  local hba=/etc/postgresql/$1/main/pg_hba.conf
  if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
}

ensure_test_database() {
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
  fi
}

ensure_chromium() {
  if [ -n "${COVERGATE_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then
    return
  fi
  apt_install chromium
}

ensure_client_toolchain() {
  local missing
  missing=$(missing_packages protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf python3-pip python3-setuptools python3-wheel)
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086 # one package per word
    apt_install $missing
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "prereqs: Node.js 20 or later with npm is needed for the TypeScript client (apt-get install nodejs npm)" >&2
    exit 1
  fi
}

case "${1:-}" in
  test) ensure_postgres; ensure_chromium ;;
  postgres) ensure_postgres ;;
  clients) ensure_client_toolchain ;;
  *) echo "usage: $0 test|postgres|clients" >&2; exit 2 ;;
esac
