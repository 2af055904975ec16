#!/usr/bin/env bash
# Vendors the Swagger UI build served at /docs (package server/docs) into server/docs/assets/.
#
# The page must work where no CDN is reachable, so the browser files are committed and embedded in
# the binary. They come from the npm package swagger-ui-dist at the version pinned below; the
# tarball's sha512 must match the pinned integrity AND the one the registry reports, so a changed
# or substituted artifact stops the script instead of landing in the repository. Only the files
# the page loads (plus the licence notices) are copied, byte for byte, and VERSION records what was
# vendored.
#
# Usage:
#   tools/scripts/vendor-swagger-ui.sh            # re-vendor the pinned version
#   SWAGGER_UI_VERSION=5.36.0 tools/scripts/vendor-swagger-ui.sh
#       # prints the registry's integrity for the new version and stops: review the release, then
#   SWAGGER_UI_VERSION=5.36.0 SWAGGER_UI_INTEGRITY=sha512-... tools/scripts/vendor-swagger-ui.sh
#       # and pin both values below once the page test passes (go test ./server/docs/...).
set -euo pipefail

PINNED_VERSION="5.35.0"
PINNED_INTEGRITY="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="

# The files index.html loads, and the licence notices that must travel with them.
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-16x16.png favicon-32x32.png LICENSE NOTICE)

for tool in npm node openssl; do
  command -v "$tool" >/dev/null || { echo "vendor-swagger-ui: $tool is required (Debian: apt-get install -y npm openssl)" >&2; exit 1; }
done

version="${SWAGGER_UI_VERSION:-$PINNED_VERSION}"
integrity="${SWAGGER_UI_INTEGRITY:-}"
if [ -z "$integrity" ]; then
  if [ "$version" != "$PINNED_VERSION" ]; then
    reported=$(npm view "swagger-ui-dist@$version" dist.integrity 2>/dev/null || true)
    echo "vendor-swagger-ui: no integrity pinned for swagger-ui-dist@$version." >&2
    echo "vendor-swagger-ui: the registry reports: ${reported:-nothing (does the version exist?)}" >&2
    echo "vendor-swagger-ui: rerun with SWAGGER_UI_INTEGRITY=<that value> after reviewing the release." >&2
    exit 1
  fi
  integrity="$PINNED_INTEGRITY"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/server/docs/assets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# npm pack fetches the published tarball without running any package scripts.
(cd "$work" && npm pack --silent --json "swagger-ui-dist@$version" >pack.json 2>npm.log) || {
  echo "vendor-swagger-ui: npm pack swagger-ui-dist@$version failed:" >&2
  cat "$work/npm.log" >&2
  exit 1
}
tarball="$work/swagger-ui-dist-$version.tgz"
[ -f "$tarball" ] || { echo "vendor-swagger-ui: npm pack produced no $tarball" >&2; exit 1; }

reported=$(node -e 'const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(p[0].integrity || "")' "$work/pack.json")
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "vendor-swagger-ui: tarball integrity $actual does not match the pinned $integrity" >&2
  exit 1
fi
if [ "$actual" != "$reported" ]; then
  echo "vendor-swagger-ui: tarball integrity $actual does not match what npm reports ($reported)" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work"
for f in "${FILES[@]}"; do
  [ -f "$work/package/$f" ] || { echo "vendor-swagger-ui: swagger-ui-dist@$version has no $f" >&2; exit 1; }
done

# Replace the directory whole so files dropped upstream do not linger.
rm -rf "$dest"
mkdir -p "$dest"
for f in "${FILES[@]}"; do
  install -m 0644 "$work/package/$f" "$dest/$f"
done
printf 'swagger-ui-dist %s\nintegrity %s\n' "$version" "$actual" >"$dest/VERSION"
echo "vendor-swagger-ui: swagger-ui-dist@$version ($actual) -> ${dest#"$root"/}"
