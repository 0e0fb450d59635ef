#!/usr/bin/env bash
# Runs each Fuzz* target in the module for $FUZZTIME (default 5s). `go test -fuzz` takes one
# target per run, so this lists them and runs them one by one.
set -euo pipefail
fuzztime=${FUZZTIME:-5s}

grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' cmd internal 2>/dev/null | sort |
while read -r file; do
  pkg=./$(dirname "$file")
  for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "fuzz $pkg $name ($fuzztime)"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
