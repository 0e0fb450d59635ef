#!/usr/bin/env bash
# Fails when the committed bundle (ui/dist) differs from a fresh build of the sources, so a
# change to ui/src cannot ship without `make ui`, and keeps the script within a size budget.
# Skips (exit 0) only when Node is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "check-bundle: node/npm not installed, skipping the bundle freshness check" >&2
	exit 0
fi
# Install exactly the locked dependencies when node_modules is missing or out of date.
if [ ! -d node_modules ] || ! npm ls --silent >/dev/null 2>&1; then
	./install-deps.sh
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --noEmit
npx --no-install vitest run --silent >/dev/null
npx --no-install vite build --outDir "$out" --emptyOutDir --logLevel error
if ! diff -r "$out" dist >/dev/null; then
	echo "check-bundle: ui/dist is stale; run 'make ui' and commit ui/dist" >&2
	diff -r "$out" dist | head -20 >&2 || true
	exit 1
fi
# Size budget: the whole app is one script loaded on every first visit.
budget=$((128 * 1024))
js=$(cat dist/assets/*.js | gzip -9 | wc -c)
if [ "$js" -gt "$budget" ]; then
	echo "check-bundle: the script is $js bytes gzipped, over the budget of $budget" >&2
	exit 1
fi
echo "check-bundle: ui/dist matches the sources ($js of $budget bytes gzipped)"
