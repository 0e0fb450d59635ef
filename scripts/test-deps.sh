#!/usr/bin/env bash
# Installs what the end-to-end tests need when it is missing: Debian's prometheus package
# (for promtool). Runs as root in CI with no stdin.
set -euo pipefail

need=()
command -v promtool >/dev/null || need+=(prometheus)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run as root, or apt-get install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
