//go:build chdb

package chsql_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

var updateJSONRows = flag.Bool("jsonrows.update", false, "rewrite testdata/jsonrows from chDB's output")

// jsonRowsQueries make the outputs that BenchmarkJSONRows and the differential tests
// decode: what chDB prints for a PromQL samples query (one row of arrays per series, 96
// series) and for a trace's spans (strings with escapes and unicode, arrays, a map,
// DateTime64), in JSONFormat.
var jsonRowsQueries = map[string]string{
	"samples.jsonl": `SELECT toUInt64(cityHash64(number)) AS id,
		toInt64(1796601600000 + number * 7) AS first,
		arrayMap(i -> toInt64(if(i = 0, 0, 15000 + (i * number) % 3)), range(150)) AS deltas,
		arrayMap(i -> multiIf(number % 3 = 0, toFloat64(number * 1000 + i * 17),
			number % 3 = 1, (i * 7 + number) / 13.0, sin(i + number) * 100), range(150)) AS vals,
		CAST(if(number % 10 = 0, [toInt64(150)], []), 'Array(Int64)') AS stale
		FROM numbers(96) ORDER BY number`,
	"spans.jsonl": `SELECT lower(hex(cityHash64(number))) AS span_id,
		if(number = 0, '', lower(hex(cityHash64(number - 1)))) AS parent,
		'' AS trace_state, toInt64(1) AS flags,
		concat('GET /api/v1/items/', toString(number % 17)) AS name, toInt64(2) AS kind,
		toDateTime64('2026-12-07 10:00:00', 9, 'UTC') + toIntervalNanosecond(number * 1234567) AS start,
		toInt64(number * 1000 + 17) AS duration, toInt64(number % 5 = 0) AS status,
		if(number % 5 = 0, 'timeout: "upstream" did not answer\n☃\t\\', '') AS status_msg,
		['http.method', 'http.route', 'http.status_code', 'net.peer.name'] AS attr_keys,
		['GET', concat('/api/v1/items/', toString(number % 17)), toString(200 + number % 3), 'db-1.internal'] AS attr_vals,
		'ssis' AS attr_types,
		map('service.name', 'checkout', 'host.name', concat('høst-', toString(number % 4)), 'k8s.pod.name', 'checkout-7d9f8-x2x9z') AS res,
		concat('[{"name":"exception","attributes":{"exception.message":"No such file: \\"/tmp/',
			toString(number), '\\" (ünïcödé ✓)"}}]') AS events,
		if(number % 7 = 0, nan, number / 3) AS weight
		FROM numbers(200) ORDER BY number`,
}

// TestJSONRowsTestdata checks that testdata/jsonrows is what chDB prints today (rewrite it
// with -jsonrows.update), so that the benchmarks and differential tests, which run without
// chDB, decode real output.
func TestJSONRowsTestdata(t *testing.T) {
	c := chsqltest.Open(t)
	for name, q := range jsonRowsQueries {
		rows, err := c.Query(context.Background(), q)
		require.NoError(t, err)
		require.NoError(t, rows.Close())
		out, err := chsql.RawQuery(c, q)
		require.NoError(t, err)
		path := filepath.Join("testdata", "jsonrows", name)
		if *updateJSONRows {
			require.NoError(t, os.WriteFile(path, out, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(want), string(out), "%s: chDB's output changed; rerun with -jsonrows.update", name)
	}
}
