#!/usr/bin/env bash
# Browser tests of the web UI against a live server: builds ./cmd/loupe, starts it on random
# loopback ports with an empty data directory and two Sentry projects, seeds it over
# OTLP/HTTP JSON (seed.mjs), records job runs with the real `loupe run` and `loupe push`
# (seed-runs.mjs), sends error events to the Sentry envelope endpoint (seed-errors.mjs) and
# profiles to the Pyroscope push API (seed-profiles.mjs), and
# runs the Playwright checks (checks.mjs) in Debian's headless Chromium; then the Alerts
# page's checks (checks-alerts.mjs), which start two servers of their own with rule files
# and an embedded Alertmanager, the sign-in checks (checks-auth.mjs), which start one
# with a user and a token, and the host dashboards' checks (checks-hosts.mjs), which start
# one over a real node_exporter with 6 hours of its metrics backfilled by promtool, and the
# profiled runs' checks (checks-runprofiles.mjs), which start one and record two runs of a Go
# job using the SDK (ui/e2e/runprofchild) with `loupe run --profile`, and the tenants'
# checks (checks-tenants.mjs), which start two with tenants.enabled (one with tokens).
#
#   ui/e2e/run.sh                      # checks; screenshots in $LOUPE_SCREENSHOTS
#   LOUPE_PERF=1 ui/e2e/run.sh         # also a 10,000-span trace, 100,000 log records and
#                                      # timing figures (perf.json beside the screenshots)
#   LOUPE_ONLY='^dashboards' ui/e2e/run.sh   # only the checks whose name matches the regex
#                                      # (the seeding still runs; the Alerts checks run only
#                                      # when the regex matches "alerts", the sign-in
#                                      # checks when it matches "sign-in", the host
#                                      # dashboards' when it matches "hosts", the
#                                      # profiled runs' when it matches "runprofiles",
#                                      # the tenants' when it matches "tenants")
#
# Environment: LOUPE_SCREENSHOTS (default ui/e2e/artifacts), LOUPE_BIN (use this binary
# instead of building one), LOUPE_PERF=1, LOUPE_ONLY.
set -euo pipefail

UI_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$UI_DIR/.." && pwd)
ART=${LOUPE_SCREENSHOTS:-$UI_DIR/e2e/artifacts}
mkdir -p "$ART"
ART=$(cd "$ART" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# Tools: Node from the system, Chromium from Debian (never a downloaded browser).
command -v node >/dev/null || { echo "run.sh: node is required" >&2; exit 1; }
if [ ! -x /usr/bin/chromium ]; then
	echo "run.sh: installing Debian chromium" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi
[ -d "$UI_DIR/node_modules/playwright-core" ] || "$UI_DIR/install-deps.sh"

BIN=${LOUPE_BIN:-}
if [ -z "$BIN" ]; then
	BIN=$WORK/loupe
	(cd "$ROOT" && go build -o "$BIN" ./cmd/loupe)
fi

# wait_ready FILE: print the first JSON line with msg "ready" in FILE, waiting up to 60 s.
wait_ready() {
	node -e '
		const fs = require("fs");
		const deadline = Date.now() + 60000;
		(function poll() {
			const text = fs.existsSync(process.argv[1]) ? fs.readFileSync(process.argv[1], "utf8") : "";
			for (const l of text.split("\n")) {
				try { const j = JSON.parse(l); if (j.msg === "ready") { console.log(JSON.stringify(j)); return; } } catch {}
			}
			if (Date.now() > deadline) { console.error("not ready after 60s:\n" + text.slice(-2000)); process.exit(1); }
			setTimeout(poll, 100);
		})();' "$1"
}
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }

# Two Sentry projects with fixed DSN keys, for the error events of seed-errors.mjs.
SENTRY_KEY_API=0123456789abcdef0123456789abcdef
SENTRY_KEY_WORKER=fedcba9876543210fedcba9876543210
cat >"$WORK/loupe.yaml" <<EOF
sentry:
  projects:
    - {id: 1, name: shop-api, keys: [$SENTRY_KEY_API]}
    - {id: 2, name: shop-worker, keys: [$SENTRY_KEY_WORKER]}
EOF

"$BIN" serve --config "$WORK/loupe.yaml" --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --otlp-grpc-listen 127.0.0.1:0 --statsd-listen 127.0.0.1:0 \
	--otlp-http-listen 127.0.0.1:0 --log-format json >"$WORK/loupe.log" 2>&1 &
PIDS+=($!)
READY=$(wait_ready "$WORK/loupe.log")
HTTP=$(field "$READY" http)
OTLP_HTTP=$(field "$READY" otlp_http)
OTLP_GRPC=$(field "$READY" otlp_grpc)
echo "loupe: http $HTTP, otlp http $OTLP_HTTP, otlp grpc $OTLP_GRPC"
# The checks compare the addresses the empty states show with these.
export LOUPE_OTLP_URL=http://$OTLP_HTTP LOUPE_OTLP_GRPC=$OTLP_GRPC LOUPE_HTTP=$HTTP

# Use the server's own UI when it serves the app at /, else the proxy that mounts ui.Handler.
if node -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.exit(t.includes("<div id=\"root\">") ? 0 : 1), () => process.exit(1))' "http://$HTTP/logs"; then
	UI_URL=http://$HTTP
else
	echo "run.sh: the server does not serve the UI at /; using ui/e2e/proxy"
	(cd "$ROOT" && go build -o "$WORK/proxy" ./ui/e2e/proxy)
	"$WORK/proxy" -listen 127.0.0.1:0 -backend "http://$HTTP" >"$WORK/proxy.log" 2>&1 &
	PIDS+=($!)
	UI_URL=http://$(field "$(wait_ready "$WORK/proxy.log")" http)
fi
echo "ui: $UI_URL"

status=0
echo '{}' >"$WORK/empty.json"
(cd "$UI_DIR" && LOUPE_EMPTY=1 LOUPE_UI_URL=$UI_URL LOUPE_EXPECTED=$WORK/empty.json LOUPE_SCREENSHOTS=$ART node e2e/checks.mjs) || status=$?

(cd "$UI_DIR" && node e2e/seed.mjs "http://$OTLP_HTTP" "$WORK/expected.json" ${LOUPE_PERF:+--big})

# Job runs through the real CLI: a run that prints "hello" and succeeds, one that fails with
# exit code 3, and seven JSONL records of the job "train" (seed-runs.mjs) sent by `loupe push`.
"$BIN" run -q --server "http://$OTLP_HTTP" --name demo --tag env=e2e --monitor-interval 250ms -- \
	sh -c 'echo hello; head -c 30000000 /dev/urandom | cksum >/dev/null; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo "almost done" >&2' \
	>"$WORK/run-ok.out" 2>&1
rc=0
"$BIN" run -q --server "http://$OTLP_HTTP" --name demo -- sh -c 'echo "something went wrong" >&2; exit 3' >"$WORK/run-fail.out" 2>&1 || rc=$?
if [ "$rc" -ne 3 ]; then
	echo "run.sh: the failing loupe run exited $rc, want 3" >&2
	cat "$WORK/run-fail.out" >&2
	exit 1
fi
(cd "$UI_DIR" && node e2e/seed-runs.mjs "$WORK/runs.jsonl" "$WORK/expected.json")
"$BIN" push --server "http://$OTLP_HTTP" "$WORK/runs.jsonl"
curl -sSf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$WORK/runs.jsonl.lost-logs.json" "http://$OTLP_HTTP/v1/logs"
(cd "$UI_DIR" && node e2e/seed-errors.mjs "http://$HTTP" "http://$OTLP_HTTP" "$WORK/expected.json" "$SENTRY_KEY_API" "$SENTRY_KEY_WORKER")
# CPU profiles over Pyroscope's push API, folded and pprof (seed-profiles.mjs).
(cd "$UI_DIR" && node e2e/seed-profiles.mjs "http://$HTTP" "$WORK/expected.json")
cp "$WORK/expected.json" "$ART/expected.json"
(cd "$UI_DIR" && LOUPE_UI_URL=$UI_URL LOUPE_EXPECTED=$WORK/expected.json \
	LOUPE_SCREENSHOTS=$ART node e2e/checks.mjs) || status=$?
if [ -z "${LOUPE_ONLY:-}" ] || [[ alerts =~ $LOUPE_ONLY ]]; then
	(cd "$UI_DIR" && LOUPE_BIN=$BIN LOUPE_SCREENSHOTS=$ART node e2e/checks-alerts.mjs) || status=$?
fi
if [ -z "${LOUPE_ONLY:-}" ] || [[ sign-in =~ $LOUPE_ONLY ]]; then
	(cd "$UI_DIR" && LOUPE_BIN=$BIN LOUPE_SCREENSHOTS=$ART node e2e/checks-auth.mjs) || status=$?
fi
if [ -z "${LOUPE_ONLY:-}" ] || [[ hosts =~ $LOUPE_ONLY ]]; then
	(cd "$UI_DIR" && LOUPE_BIN=$BIN LOUPE_SCREENSHOTS=$ART node e2e/checks-hosts.mjs) || status=$?
fi
if [ -z "${LOUPE_ONLY:-}" ] || [[ runprofiles =~ $LOUPE_ONLY ]]; then
	(cd "$UI_DIR" && LOUPE_BIN=$BIN LOUPE_SCREENSHOTS=$ART node e2e/checks-runprofiles.mjs) || status=$?
fi
if [ -z "${LOUPE_ONLY:-}" ] || [[ tenants =~ $LOUPE_ONLY ]]; then
	(cd "$UI_DIR" && LOUPE_BIN=$BIN LOUPE_SCREENSHOTS=$ART node e2e/checks-tenants.mjs) || status=$?
fi
if [ $status -ne 0 ]; then
	echo "--- server log (tail) ---"
	tail -n 40 "$WORK/loupe.log"
fi
echo "screenshots: $ART"
exit $status
