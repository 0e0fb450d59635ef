#!/usr/bin/env bash
# Installs what the end-to-end tests need when it is missing. Runs as root in CI with no
# stdin. Tests never download anything else themselves except npm packages.
set -euo pipefail

need=()
have() { [ -e "$1" ] || command -v "$1" >/dev/null 2>&1; }
have promtool || need+=(prometheus)                                  # promtool, prometheus (remote write peer)
have amtool || need+=(prometheus-alertmanager)                       # amtool against the embedded Alertmanager
have prometheus-node-exporter || need+=(prometheus-node-exporter)    # a real scrape target
have curl || need+=(curl)                                            # README tour
have /usr/bin/chromium || need+=(chromium)                           # UI browser tests
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
/usr/bin/python3 -c 'import aiodogstatsd' 2>/dev/null || need+=(python3-aiodogstatsd)
/usr/bin/python3 -c 'import sentry_sdk' 2>/dev/null || need+=(python3-sentry-sdk)       # Sentry ingest e2e

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
