#!/usr/bin/env bash
# Installs the locked @sentry/node into e2e/sentry-node/node_modules for the end-to-end test
# (e2e/sentry_node_test.go), as ui/install-deps.sh does for the UI's packages.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund --no-save >/dev/null
