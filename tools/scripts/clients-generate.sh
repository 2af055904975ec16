#!/usr/bin/env bash
# Regenerates the TypeScript and Python clients' generated code (`make clients`):
#   clients/typescript/src/gen/proto  protoc-gen-es (pinned in clients/typescript/package-lock.json)
#   clients/typescript/src/gen/openapi.ts  openapi-typescript from gen/openapi/openapi.json
#   clients/python/gen  Debian's protoc 3.21.12 + grpc_python_plugin 1.51.1, matching the
#                       python3-protobuf / python3-grpcio runtimes the client is used with
# Each generator is run twice through buf: once over proto/ (with its imports), once over the
# google.rpc error descriptors written by clients/rpcdescriptors from the genproto module the
# server itself uses (third_party/'s googleapis copy predates google.rpc.ErrorInfo).
# Needs: third_party/ (make third_party), node + npm, and the Debian packages protobuf-compiler
# and protobuf-compiler-grpc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
buf=(go tool -modfile=tools/go.mod buf)

# The Python output is only reproducible (and only importable with Debian's runtime) when it
# comes from exactly this protoc.
want_protoc="libprotoc 3.21.12"
if ! command -v protoc >/dev/null || [ "$(protoc --version)" != "$want_protoc" ]; then
  echo "clients: need '$want_protoc' at /usr/bin/protoc (apt-get install protobuf-compiler); found: $(protoc --version 2>&1 || true)" >&2
  exit 1
fi
if [ ! -x /usr/bin/grpc_python_plugin ]; then
  echo "clients: need /usr/bin/grpc_python_plugin (apt-get install protobuf-compiler-grpc)" >&2
  exit 1
fi
if [ ! -f third_party/protovalidate/buf/validate/validate.proto ]; then
  echo "clients: third_party/ is missing: run 'make third_party' first" >&2
  exit 1
fi

tools/scripts/clients-npm.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./clients/rpcdescriptors "$tmp/rpc.binpb"
rpc_paths=(--path google/rpc/status.proto --path google/rpc/error_details.proto)

ts_out=clients/typescript/src/gen
rm -rf "$ts_out"
"${buf[@]}" generate --template buf.gen.clients.typescript.yaml
"${buf[@]}" generate "$tmp/rpc.binpb" "${rpc_paths[@]}" --template buf.gen.clients.typescript.yaml
clients/typescript/node_modules/.bin/openapi-typescript gen/openapi/openapi.json \
  -o "$ts_out/openapi.ts" >/dev/null

py_out=clients/python/gen
rm -rf "$py_out"
"${buf[@]}" generate --template buf.gen.clients.python.yaml
"${buf[@]}" generate "$tmp/rpc.binpb" "${rpc_paths[@]}" --template buf.gen.clients.python.yaml
echo "clients: regenerated $ts_out and $py_out"
