#!/usr/bin/env bash
# buf breaking (WIRE_JSON: JSON names are part of the REST contract) against the last RELEASED
# contract, kept as a committed Buf image (tools/contract/released.binpb). Comparing with a
# committed image rather than HEAD~1 catches a break that is followed by other commits, and never
# passes vacuously: a missing image is an error.
#
# To release the contract (after a deliberate, announced version), run `make release-contract`
# and commit the new image.
set -euo pipefail
image=${1:-tools/contract/released.binpb}
buf=(go tool -modfile=tools/go.mod buf)

if [ ! -s "$image" ]; then
  echo "breaking: the released contract image $image is missing; restore it from git or run 'make release-contract' at a release" >&2
  exit 1
fi
"${buf[@]}" breaking proto --against "$image"
echo "breaking: no breaking change against the released contract ($image)"
