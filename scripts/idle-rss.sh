#!/bin/bash
# Idle memory of loupe serve (docs/operations.md, Memory).
# usage: scripts/idle-rss.sh BIN OUTPREFIX MINUTES (METRICS=1 also scrapes /metrics every 30 s)
# Starts BIN serve on an empty data dir (default config), samples every 30 s.
BIN=$1; OUT=$2; MIN=${3:-16}
D=$(mktemp -d)
sync "$BIN"
"$BIN" serve --data-dir "$D/data" --http-listen 127.0.0.1:0 --otlp-grpc-listen 127.0.0.1:0 --otlp-http-listen 127.0.0.1:0 --statsd-listen 127.0.0.1:0 >"$OUT.log" 2>&1 &
PID=$!
echo $PID > "$OUT.pid"
for i in $(seq 1 100); do grep -q '"ready"\|msg=ready' "$OUT.log" && break; sleep 0.2; done
HTTP=$(grep -o 'http=[^ ]*' "$OUT.log" | head -1 | cut -d= -f2)
echo "pid $PID http $HTTP" > "$OUT.tsv"
echo -e "t_s\tvmrss_kib\trssanon\trssfile\tanon_rollup\tlazyfree\theap_idle\theap_inuse\theap_released\tgo_sys\tload1" >> "$OUT.tsv"
START=$(date +%s)
N=$((MIN*2))
for i in $(seq 0 $N); do
  [ $i -eq 0 ] && sleep 10 || sleep 30
  [ -d /proc/$PID ] || { echo "died" >> "$OUT.tsv"; break; }
  st=$(awk '/^VmRSS|^RssAnon|^RssFile/{printf "%s\t",$2}' /proc/$PID/status)
  sr=$(awk '/^Anonymous|^LazyFree/{printf "%s\t",$2}' /proc/$PID/smaps_rollup)
  m=""; [ "${METRICS:-0}" = 1 ] && m=$(curl -s "http://$HTTP/metrics" | awk '/^go_memstats_heap_inuse_bytes |^go_memstats_heap_idle_bytes |^go_memstats_heap_released_bytes |^go_memstats_sys_bytes /{printf "%d\t",$2/1024}')
  echo -e "$(( $(date +%s)-START ))\t$st$sr$m$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT.tsv"
  cp /proc/$PID/smaps "$OUT.smaps.$i" 2>/dev/null
done
kill $PID; wait $PID
