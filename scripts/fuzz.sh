#!/usr/bin/env bash
# Runs each Fuzz* target in the module for $FUZZTIME (default 3s, as in the Makefile).
#
# `go test -fuzz` takes one target per run and links the test binary each time, which costs
# ~30 s for a package linking DuckDB. So this builds one fuzzing test binary per package
# (`go test -c -fuzz`) and runs it once per target, from the package directory as go test
# does (failing inputs land in that package's testdata/fuzz).
#
# With CHDB_LIB_PATH set (the Makefile sets it), binaries are built with the chdb tag, so the
# ClickHouse backend's fuzz targets that round-trip through chDB run too.
#
# A run that fails only with "context deadline exceeded" and writes no failing input is run
# once more: on a loaded machine Go's fuzz coordinator can time out waiting for a worker at
# the end of a short -fuzztime. A crash always fails; so does the same timeout twice.
set -euo pipefail
fuzztime=${FUZZTIME:-3s}
root=$(pwd)
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
cachedir=$(go env GOCACHE)/fuzz
tags=()
if [ -n "${CHDB_LIB_PATH:-}" ]; then tags=(-tags chdb); fi

# Arguments name the directories to search (default: the whole module's Go code).
if [ $# -eq 0 ]; then set -- bench cmd internal; fi
dirs=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' "$@" 2>/dev/null |
  xargs -n1 dirname | sort -u)

# The binaries are built first, two at a time: linking is mostly one thread, so a second
# build uses the other core (the fuzzing below uses both). A failed build fails the run.
echo "$dirs" | xargs -P 2 -I{} sh -c \
  'echo "fuzz: building ./{}" && go test -c "$@" -fuzz . -o "'"$bindir"'/$(echo {} | tr / _).test" ./{}' sh "${tags[@]}"

for dir in $dirs; do
  pkg=$(cd "$dir" && go list .)
  bin="$bindir/$(echo "$dir" | tr / _).test"
  for name in $(grep -ohE '^func Fuzz[A-Za-z0-9_]+' "$dir"/*_test.go | sed 's/^func //' | sort); do
    echo "fuzz $pkg $name ($fuzztime)"
    run() { (cd "$root/$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
      -test.fuzzcachedir "$cachedir/$pkg"); }
    out=$(mktemp)
    if run 2>&1 | tee "$out"; then
      rm -f "$out"
      continue
    fi
    if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
      echo "fuzz $pkg $name: coordinator timeout without a failing input; running it once more"
      rm -f "$out"
      run
      continue
    fi
    rm -f "$out"
    exit 1
  done
done
