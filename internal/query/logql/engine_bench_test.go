package logql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// benchRows is the data set size of BenchmarkLogQL; LOGQL_BENCH_ROWS overrides it.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("LOGQL_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// fillBench writes n JSON log lines of 10 services spread over one hour from T0, one
// line in 10,000 containing the needle "needle-7f3a".
func fillBench(b *testing.B, n int) *duck.Store {
	st, err := duck.Open(filepath.Join(b.TempDir(), "b.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	const batch = 20_000
	levels := []string{"info", "info", "info", "warn", "error"}
	for done := 0; done < n; done += batch {
		ld := plog.NewLogs()
		res := map[int]plog.LogRecordSlice{}
		for i := done; i < min(n, done+batch); i++ {
			svc := i % 10
			recs, ok := res[svc]
			if !ok {
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("service.name", "svc"+strconv.Itoa(svc))
				rl.Resource().Attributes().PutStr("host.name", "host"+strconv.Itoa(svc%3))
				recs = rl.ScopeLogs().AppendEmpty().LogRecords()
				res[svc] = recs
			}
			lr := recs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(T0.Add(time.Duration(i) * time.Hour / time.Duration(n))))
			msg := "request handled"
			if i%10_000 == 5_000 {
				msg = "needle-7f3a found"
			}
			lvl := levels[i%len(levels)]
			lr.SetSeverityText(lvl)
			lr.Body().SetStr(fmt.Sprintf(`{"level":%q,"msg":%q,"path":"/api/v1/items/%d","status":%d,"duration_ms":%d}`, lvl, msg, i%1000, 200+100*(i%5/4), i%250))
			lr.Attributes().PutStr("http.route", "/api/v1/items/{id}")
		}
		require.NoError(b, st.WriteLogs(context.Background(), ld))
	}
	return st
}

// BenchmarkLogQL measures queries over the whole data set; rows/s counts the rows in
// the queried time range (all of them), not the rows returned.
func BenchmarkLogQL(b *testing.B) {
	n := benchRows()
	st := fillBench(b, n)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	span := logql.Params{Start: T0, End: T0.Add(time.Hour), Step: time.Minute, Limit: 100}
	for _, c := range []struct {
		name, query string
		rows        int // rows the query must read
	}{
		{"count_over_time_by_service", `sum by (service_name) (count_over_time({service_name=~"svc.*"}[1m]))`, n},
		{"rate_sliding_5m_step_1m", `sum(rate({host_name="host0"}[5m]))`, n * 4 / 10},
		{"needle_line_filter", `{service_name=~"svc.*"} |= "needle-7f3a"`, n},
		{"needle_regexp", `{service_name=~"svc.*"} |~ "needle-[0-9a-f]+ found"`, n},
		{"json_count_by_level_one_service", `sum by (level) (count_over_time({service_name="svc3"} | json [5m]))`, n / 10},
		{"json_unwrap_quantile_one_service", `quantile_over_time(0.99, {service_name="svc3"} | json | unwrap duration_ms [5m]) by (service_name)`, n / 10},
		{"last_100_lines", `{service_name="svc1"}`, 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := eng.Query(context.Background(), c.query, span)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Series) == 0 && len(res.Streams) == 0 {
					b.Fatal("empty result")
				}
			}
			b.ReportMetric(float64(c.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
