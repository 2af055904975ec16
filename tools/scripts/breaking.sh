#!/usr/bin/env bash
# buf breaking (WIRE_JSON: JSON names are part of the REST contract) against an earlier commit.
# The earlier proto/ is rebuilt with today's third_party/ and buf.yaml, because third-party protos
# are fetched at generate time and never committed, so a plain git input could not resolve them.
set -euo pipefail
base=${1:-HEAD~1}
buf=(go tool -modfile=tools/go.mod buf)

if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
  echo "breaking: no commit $base to compare with"; exit 0
fi
if ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "breaking: $base has no proto/"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" proto | tar -x -C "$tmp"
cp -r third_party "$tmp/"
cp buf.yaml "$tmp/"
"${buf[@]}" build "$tmp/proto" -o "$tmp/image.binpb"
"${buf[@]}" breaking proto --against "$tmp/image.binpb"
echo "breaking: no breaking change against $base"
