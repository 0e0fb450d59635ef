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
have haproxy || need+=(haproxy)                                      # deploy/clickhouse's load balancer (TestDeployHAProxy)
have /usr/bin/chromium || need+=(chromium)                           # UI browser tests
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
/usr/bin/python3 -c 'import aiodogstatsd' 2>/dev/null || need+=(python3-aiodogstatsd)
/usr/bin/python3 -c 'import sentry_sdk' 2>/dev/null || need+=(python3-sentry-sdk)       # Sentry ingest e2e
have /etc/grafana/dashboards/ceph-dashboard || need+=(ceph-grafana-dashboards) # real Grafana dashboards to import
have npm || need+=(npm)                                              # fetches libchdb.so below

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# libchdb.so (ClickHouse in-process, ~570 MB) for the ClickHouse backend's tests (build tag
# chdb): fetched once from npm into the user's cache, never into the repository. The
# Makefile passes its path as CHDB_LIB_PATH.
chdb_dir="${XDG_CACHE_HOME:-$HOME/.cache}/loupe/chdb"
chdb_pkg="@chdb/lib-linux-x64-gnu@26.7.3-stable.1"
if [ ! -s "$chdb_dir/libchdb.so" ]; then
  echo "fetching libchdb.so ($chdb_pkg, about 570 MB) into $chdb_dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$chdb_pkg" >/dev/null && tar -xzf ./*.tgz package/libchdb.so)
  mkdir -p "$chdb_dir"
  mv "$tmp/package/libchdb.so" "$chdb_dir/libchdb.so.partial"
  mv "$chdb_dir/libchdb.so.partial" "$chdb_dir/libchdb.so"
fi

