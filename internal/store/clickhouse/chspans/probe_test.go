//go:build chdb

package chspans

import (
	"context"
	"encoding/hex"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

var probeDir = flag.String("probe.dir", "", "chDB data dir (a copy of a loaded Loupe's <data-dir>/clickhouse) for TestProbeGetTrace")

// TestProbeGetTrace times the trace lookup's SQL, and variants of it, on a copy of a
// loaded data dir (the harness's query scenario leaves one in its work dir): CPU (Go and
// chDB threads) and wall time per query over 40 traces (PROBE_N), twice. It is how the
// figures of docs/performance.md ("trace by id on chDB: small compressed blocks",
// 2026-12-07) were taken, and is skipped without -probe.dir. PROBE_PRE changes the data
// dir: use a copy.
//
//   - PROBE_PRE: statements run first (table copies with other settings), ";;"-separated.
//   - PROBE_VARIANTS: name=>query pairs, ";;"-separated, timed beside the built-in ones:
//     current (GetTrace's query), lookup (its span_traces part), gettrace (the whole
//     GetTrace), twostep (the lookup, then the spans query with literal bounds), red and
//     find (the harness's RED overview and trace search, to see what scans pay). In them
//     $ID is a trace id, $BOUNDS its literal start range, $SVCS its services and $COLS
//     spanColumns.
//   - PROBE_SHOW: queries whose answers are logged (system.events counters, part sizes).
//   - PROBE_EXPLAIN: when set, each variant's EXPLAIN indexes = 1 is logged.
//
// For example (the spans query with literal bounds):
//
//	PROBE_VARIANTS="const=>SELECT \$COLS FROM loupe.spans WHERE tenant = '' AND \$BOUNDS AND trace_id = '\$ID'" \
//	  go test -tags chdb -run TestProbeGetTrace -v ./internal/store/clickhouse/chspans -probe.dir /tmp/copy
func TestProbeGetTrace(t *testing.T) {
	if *probeDir == "" {
		t.Skip("no -probe.dir")
	}
	conn, err := chsql.OpenChDB(*probeDir, "loupe")
	require.NoError(t, err)
	ctx := context.Background()
	s := &Store{conn: conn, schema: chsql.Schema{Database: "loupe"}, tenant: "''"}
	for _, q := range strings.Split(os.Getenv("PROBE_PRE"), ";;") {
		if strings.TrimSpace(q) != "" {
			t0 := time.Now()
			require.NoError(t, conn.Exec(ctx, q), q)
			t.Logf("pre %s: %v", q, time.Since(t0))
		}
	}
	n := 40
	if v, err := strconv.Atoi(os.Getenv("PROBE_N")); err == nil && v > 0 {
		n = v // PROBE_N: traces (and runs of each variant) per round
	}
	ids, err := s.strings(ctx, "SELECT trace_id FROM loupe.span_traces ORDER BY cityHash64(trace_id) LIMIT "+strconv.Itoa(n))
	require.NoError(t, err)
	variants := map[string]func(id string) string{
		"current": func(id string) string {
			var tid pcommon.TraceID
			_, _ = hex.Decode(tid[:], []byte(id))
			return s.getTraceQuery(tid)
		},
		"gettrace": nil, // s.GetTrace
		"twostep":  nil, // lookup, then the spans query with its answer as literals
		"red":      nil, // s.ServiceStats over all the data, step 1m (the RED overview)
		"find":     nil, // s.FindTraces(service checkout, min duration 100ms)
		"lookup": func(id string) string {
			return `SELECT (min(start_min), max(start_max)) FROM loupe.span_traces WHERE tenant = '' AND trace_id = '` + id + `'`
		},
	}
	// Literal bounds and services of each trace, found before timing.
	bounds := map[string]string{}
	svcs := map[string]string{}
	for _, id := range ids {
		r, err := s.strings(ctx, "SELECT concat(toString(min(start_min)), '|', toString(max(start_max))) FROM loupe.span_traces WHERE tenant = '' AND trace_id = '"+id+"'")
		require.NoError(t, err)
		lo, hi, _ := strings.Cut(r[0], "|")
		bounds[id] = "start >= toDateTime64('" + lo + "', 9, 'UTC') AND start <= toDateTime64('" + hi + "', 9, 'UTC')"
		sv, err := s.strings(ctx, "SELECT DISTINCT toString(service) FROM loupe.spans WHERE "+bounds[id]+" AND trace_id = '"+id+"'")
		require.NoError(t, err)
		svcs[id] = "service IN ('" + strings.Join(sv, "','") + "')"
	}
	for _, v := range strings.Split(os.Getenv("PROBE_VARIANTS"), ";;") {
		name, q, ok := strings.Cut(v, "=>")
		if ok {
			variants[strings.TrimSpace(name)] = func(id string) string {
				return strings.NewReplacer("$ID", id, "$BOUNDS", bounds[id], "$SVCS", svcs[id], "$COLS", spanColumns).Replace(q)
			}
		}
	}
	for name, f := range variants {
		if os.Getenv("PROBE_EXPLAIN") != "" && f != nil {
			plan, err := s.strings(ctx, "EXPLAIN indexes = 1 "+f(ids[0]))
			require.NoError(t, err, name)
			t.Logf("%s plan:\n%s", name, strings.Join(plan, "\n"))
		}
	}
	for _, q := range strings.Split(os.Getenv("PROBE_SHOW"), ";;") {
		if strings.TrimSpace(q) != "" {
			q = strings.NewReplacer("$ID", ids[0], "$BOUNDS", bounds[ids[0]], "$SVCS", svcs[ids[0]], "$COLS", spanColumns).Replace(q)
			out, err := s.strings(ctx, q)
			require.NoError(t, err, q)
			t.Logf("%s:\n%s", q, strings.Join(out, "\n"))
		}
	}
	for round := range 2 {
		for name, f := range variants {
			var wall, cpu time.Duration
			rowsN := 0
			for _, id := range ids {
				c0, w0 := cpuTime(), time.Now()
				if name == "twostep" {
					r, err := s.strings(ctx, "SELECT concat(toString(min(start_min)), '|', toString(max(start_max))) FROM loupe.span_traces WHERE tenant = '' AND trace_id = '"+id+"'")
					require.NoError(t, err)
					lo, hi, _ := strings.Cut(r[0], "|")
					q := "SELECT " + spanColumns + " FROM loupe.spans WHERE tenant = '' AND start >= toDateTime64('" + lo + "', 9, 'UTC') AND start <= toDateTime64('" + hi + "', 9, 'UTC') AND trace_id = '" + id + "' ORDER BY start, span_id"
					rows, err := conn.Query(ctx, q)
					require.NoError(t, err)
					for rows.Next() {
						rowsN++
					}
					rows.Close()
					wall += time.Since(w0)
					cpu += cpuTime() - c0
					continue
				}
				if name == "red" || name == "find" {
					// The harness's RED overview and trace search, over all the data
					// (run once per trace like the others, for comparable figures).
					if name == "red" {
						_, err := s.ServiceStats(ctx, store.ServiceStatsQuery{Start: time.Unix(0, 0), End: time.Now().Add(time.Hour), Step: time.Minute})
						require.NoError(t, err)
					} else {
						for _, err := range s.FindTraces(ctx, store.TraceQuery{Service: "checkout", MinDuration: 100 * time.Millisecond, Limit: 20}) {
							require.NoError(t, err)
							rowsN++
						}
					}
					wall += time.Since(w0)
					cpu += cpuTime() - c0
					continue
				}
				if name == "gettrace" {
					var tid pcommon.TraceID
					_, _ = hex.Decode(tid[:], []byte(id))
					td, err := s.GetTrace(ctx, tid)
					require.NoError(t, err)
					rowsN += td.SpanCount()
					wall += time.Since(w0)
					cpu += cpuTime() - c0
					continue
				}
				rows, err := conn.Query(ctx, f(id))
				require.NoError(t, err, name)
				for rows.Next() {
					rowsN++
				}
				require.NoError(t, rows.Err())
				rows.Close()
				wall += time.Since(w0)
				cpu += cpuTime() - c0
			}
			n := time.Duration(len(ids))
			t.Logf("round %d %-12s wall %6.2f ms cpu %6.2f ms rows/q %.1f", round, name,
				float64(wall/n)/1e6, float64(cpu/n)/1e6, float64(rowsN)/float64(len(ids)))
		}
	}
}
