#!/usr/bin/env bash
# Measures what `loupe run` costs a CPU-bound job: hyperfine runs a fixed amount of CPU work
# (a xorshift loop, so its CPU time does not depend on the machine's load) plainly, under
# `loupe run --output` with no server, and under `loupe run` shipping to a local server.
# Compare the User+System columns (CPU seconds): on a shared machine wall times are noise.
#
#   scripts/run-overhead.sh [ITERATIONS] [RUNS]    # defaults: 5e9 (~10 s), 5
set -euo pipefail
N=${1:-5000000000}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y hyperfine >/dev/null

mkdir -p "$WORK/spin"
cat >"$WORK/spin/main.go" <<'GO'
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	n, _ := strconv.ParseInt(os.Args[1], 10, 64)
	x := uint64(88172645463325252)
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	fmt.Println(x)
}
GO
printf 'module spin\ngo 1.26\n' >"$WORK/spin/go.mod"
(cd "$WORK/spin" && go build -o "$WORK/spinbin" .)
(cd "$ROOT" && go build -o "$WORK/loupe" ./cmd/loupe)

"$WORK/loupe" serve --data-dir "$WORK/data" --http-listen 127.0.0.1:0 --otlp-grpc-listen 127.0.0.1:0 \
	--otlp-http-listen 127.0.0.1:0 --statsd-listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q 'msg=ready' "$WORK/server.log" && break; sleep 0.1; done
OTLP=$(grep -o 'otlp_http=[^ ]*' "$WORK/server.log" | head -1 | cut -d= -f2)
[ -n "$OTLP" ] || { cat "$WORK/server.log"; echo "server did not start" >&2; exit 1; }

cat /proc/loadavg
hyperfine -w 1 -r "$RUNS" \
	-n plain "$WORK/spinbin $N" \
	-n 'loupe run --output' "$WORK/loupe run -q --server '' --output $WORK/runs.jsonl -- $WORK/spinbin $N" \
	-n 'loupe run --server' "$WORK/loupe run -q --server http://$OTLP -- $WORK/spinbin $N"
cat /proc/loadavg
