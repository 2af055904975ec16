#!/usr/bin/env bash
# Copies third-party .proto files out of pinned Go modules into third_party/ (git-ignored).
# The Buf registry is unreachable from our build networks; the Go module proxy is not, and the
# module checksums make the copy verifiable. Versions are pinned here and nowhere else.
set -euo pipefail

PROTOVALIDATE="github.com/bufbuild/protovalidate@v1.2.2"
GOOGLEAPIS="github.com/grpc-ecosystem/grpc-gateway@v1.16.0"

root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/third_party"

moddir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "fetch-protos: cannot download $1" >&2
    exit 1
  fi
  echo "$dir"
}

pv=$(moddir "$PROTOVALIDATE")
ga=$(moddir "$GOOGLEAPIS")

rm -rf "$dest"
mkdir -p "$dest/protovalidate/buf/validate" "$dest/googleapis/google/api" "$dest/googleapis/google/rpc"
install -m 0644 "$pv/proto/protovalidate/buf/validate/validate.proto" "$dest/protovalidate/buf/validate/"
for f in annotations http httpbody; do
  install -m 0644 "$ga/third_party/googleapis/google/api/$f.proto" "$dest/googleapis/google/api/"
done
for f in code error_details status; do
  install -m 0644 "$ga/third_party/googleapis/google/rpc/$f.proto" "$dest/googleapis/google/rpc/"
done
echo "third_party: protovalidate from $PROTOVALIDATE, googleapis from $GOOGLEAPIS"
