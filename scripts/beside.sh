#!/usr/bin/env bash
# beside.sh BACKGROUND FOREGROUND: runs the two shell commands at the same time, the
# second with its output as it comes and the first into a file printed once both are done
# (so the two do not interleave), and fails when either failed, naming it.
#
# `make test` runs the browser checks beside the Go tests this way: they mostly wait on
# the server, Chromium and timers (80 CPU-seconds in 207 s, measured at load 16-24), as the e2e
# package's clock-bound tests do, so together they take little longer than the Go tests.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bash -c "$1" >"$out" 2>&1 &
bg=$!
bash -c "$2"
fg_status=$?
wait "$bg"
bg_status=$?
echo "--- output of: $1 (run beside the above) ---"
cat "$out"
status=0
if [ "$bg_status" -ne 0 ]; then
	echo "beside.sh: '$1' failed (exit $bg_status)" >&2
	status=1
fi
if [ "$fg_status" -ne 0 ]; then
	echo "beside.sh: '$2' failed (exit $fg_status)" >&2
	status=1
fi
exit $status
