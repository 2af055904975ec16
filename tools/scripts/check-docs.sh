#!/usr/bin/env bash
# make check-docs: the documents a newcomer trusts must not drift from what the code does.
#   1. README's Testing section names every make target .ci/run runs.
#   2. The generated reports (docs/performance.md by `make bench`, docs/reliability.md's figures
#      by `make reliability`) name the revision they were measured on, and it is a commit of this
#      repository.
# README's runnable examples are checked by a test (cmd/covergate: TestReadmeExamples).
set -euo pipefail
cd "$(dirname "$0")/../.."
fail=0

testing_section=$(awk '/^## Testing/{f=1; next} /^## /{f=0} f' README.md)
if [ -z "$testing_section" ]; then
  echo "check-docs: README.md has no '## Testing' section"; fail=1
fi
for target in $(grep -oE '^make [a-z][a-z-]*' .ci/run | awk '{print $2}' | sort -u); do
  if ! grep -q "make $target" <<<"$testing_section"; then
    echo "check-docs: README's Testing section does not mention 'make $target', which .ci/run runs"
    fail=1
  fi
done

for doc in docs/performance.md docs/reliability.md; do
  revs=$(grep -oE 'revision `?[0-9a-f]{7,40}' "$doc" | grep -oE '[0-9a-f]{7,40}$' | sort -u || true)
  if [ -z "$revs" ]; then
    echo "check-docs: $doc does not name the revision it was measured on (regenerate it)"
    fail=1
    continue
  fi
  for rev in $revs; do
    if ! git cat-file -e "$rev^{commit}" 2>/dev/null; then
      echo "check-docs: $doc names revision $rev, which is not a commit of this repository"
      fail=1
    fi
  done
done

if [ "$fail" = 0 ]; then
  echo "check-docs: README lists what CI runs; the reports name their revisions"
fi
exit "$fail"
