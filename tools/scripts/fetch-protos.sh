#!/usr/bin/env bash
# Copies third-party .proto files out of pinned Go modules into third_party/ (git-ignored).
# The Buf registry is unreachable from our build networks; the Go module proxy is not, and the
# module checksums make the copy verifiable. Versions are pinned here and nowhere else.
set -euo pipefail

PROTOVALIDATE="github.com/bufbuild/protovalidate@v1.2.2"
GOOGLEAPIS="github.com/grpc-ecosystem/grpc-gateway@v1.16.0"
# google/api/field_behavior.proto is not in v1.16.0's copy of googleapis; grpc-gateway v2.2.0 is
# the newest release whose module still ships it (later ones take googleapis from the Buf registry).
FIELD_BEHAVIOR="github.com/grpc-ecosystem/grpc-gateway/v2@v2.2.0"

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
fb=$(moddir "$FIELD_BEHAVIOR")

rm -rf "$dest"
mkdir -p "$dest/protovalidate/buf/validate" "$dest/googleapis/google/api" "$dest/googleapis/google/rpc"
install -m 0644 "$pv/proto/protovalidate/buf/validate/validate.proto" "$dest/protovalidate/buf/validate/"
for f in annotations http httpbody; do
  install -m 0644 "$ga/third_party/googleapis/google/api/$f.proto" "$dest/googleapis/google/api/"
done
install -m 0644 "$fb/third_party/googleapis/google/api/field_behavior.proto" "$dest/googleapis/google/api/"
for f in code error_details status; do
  install -m 0644 "$ga/third_party/googleapis/google/rpc/$f.proto" "$dest/googleapis/google/rpc/"
done
echo "third_party: protovalidate from $PROTOVALIDATE, googleapis from $GOOGLEAPIS (field_behavior from $FIELD_BEHAVIOR)"
