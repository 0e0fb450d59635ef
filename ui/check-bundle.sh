#!/usr/bin/env bash
# Fails when the committed bundle (ui/dist) differs from a fresh build of the sources, so a
# change to ui/src cannot ship without `make ui`, and keeps the scripts within size budgets
# (the first load, and all scripts together: see below).
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
# Size budgets. Pages are split into chunks loaded on demand (React.lazy in App.tsx), so the
# budget that matters for a first visit is the first load: the entry script of index.html
# plus the chunks it imports statically (index.html's modulepreload links). A cap on all
# scripts together keeps the growth of the whole app visible too.
first_budget=$((128 * 1024))
total_budget=$((256 * 1024))
first_files=$(grep -oE '(src|href)="/assets/[^"]+\.js"' dist/index.html | sed -E 's/^(src|href)="\/(.*)"$/\2/' | sort -u)
if [ -z "$first_files" ]; then
	echo "check-bundle: no entry script found in dist/index.html" >&2
	exit 1
fi
# shellcheck disable=SC2086
first=$(cd dist && cat $first_files | gzip -9 | wc -c)
total=$(cat dist/assets/*.js | gzip -9 | wc -c)
if [ "$first" -gt "$first_budget" ]; then
	echo "check-bundle: the first load (entry script and its static imports) is $first bytes gzipped, over the budget of $first_budget" >&2
	exit 1
fi
if [ "$total" -gt "$total_budget" ]; then
	echo "check-bundle: all scripts together are $total bytes gzipped, over the cap of $total_budget" >&2
	exit 1
fi
echo "check-bundle: ui/dist matches the sources (first load $first of $first_budget bytes gzipped; all scripts $total of $total_budget)"
