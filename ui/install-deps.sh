#!/usr/bin/env bash
# Installs the UI's locked npm dependencies into ui/node_modules.
# `npm ci` refuses this lock file on some npm 11 setups (it lists rollup's optional
# per-platform packages without entries: "Missing: @rollup/rollup-android-arm-eabi@ from lock
# file"); `npm install` then installs the same locked versions.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund --no-save >/dev/null
