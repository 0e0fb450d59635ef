#!/usr/bin/env bash
# Runs each Fuzz* target in the module for $FUZZTIME (default 3s, as in the Makefile).
# `go test -fuzz` takes one target per run, so this lists them and runs them one by one.
#
# A run that fails only with "context deadline exceeded" and writes no failing input is run
# once more: on a loaded machine Go's fuzz coordinator can time out waiting for a worker at
# the end of a short -fuzztime. A crash always fails; so does the same timeout twice.
set -euo pipefail
fuzztime=${FUZZTIME:-3s}

run() { go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" "$1"; }

grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' bench cmd internal 2>/dev/null | sort |
while read -r file; do
  pkg=./$(dirname "$file")
  for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "fuzz $pkg $name ($fuzztime)"
    out=$(mktemp)
    if run "$pkg" "$name" 2>&1 | tee "$out"; then
      rm -f "$out"
      continue
    fi
    if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
      echo "fuzz $pkg $name: coordinator timeout without a failing input; running it once more"
      rm -f "$out"
      run "$pkg" "$name"
      continue
    fi
    rm -f "$out"
    exit 1
  done
done
