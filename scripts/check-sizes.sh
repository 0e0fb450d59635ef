#!/usr/bin/env bash
# Fails when a tracked file is larger than the limit (default 2 MiB): binaries and data dumps
# belong in releases or are built by the tests, not in every clone of the repository.
set -euo pipefail
limit=${MAX_FILE_BYTES:-2097152}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt "$limit" ]; then
    echo "tracked file $f is $size bytes, over the $limit-byte limit (MAX_FILE_BYTES)" >&2
    status=1
  fi
done < <(git ls-files -z)
exit $status
