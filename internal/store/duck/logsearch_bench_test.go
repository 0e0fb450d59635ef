package duck

import (
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

var (
	logSearchDir  = flag.String("logsearch.dir", "", "keep BenchmarkLogSearchProbes' database in this directory and reuse it (written once)")
	logSearchLogs = flag.Int("logsearch.logs", 2_000_000, "log records written before BenchmarkLogSearchProbes")
	logSearchPlan = flag.Bool("logsearch.plan", false, "log the EXPLAIN ANALYZE of the SQL probes (with -test.v)")
)

// logSearchNeedleID returns the request.id of the record in the middle of n.
func logSearchNeedleID(n int) string {
	needle := genLogs(n/2, 1)
	for i := 0; i < needle.ResourceLogs().Len(); i++ {
		lrs := needle.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
		if lrs.Len() > 0 {
			v, _ := lrs.At(0).Attributes().Get("request.id")
			return v.Str()
		}
	}
	return ""
}

// waitLogIndexed waits until the body and term indexes cover every full block of the logs.
func waitLogIndexed(tb testing.TB, s *Store) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		full, body, terms := int64(0), int64(0), int64(0)
		for _, day := range s.logs.allDays() {
			var rows int64
			require.NoError(tb, s.db.QueryRow("SELECT count(*) FROM "+dayName(s.logs.schema.prefix, day)).Scan(&rows))
			full += rows / s.bodyIndex.blockRows
			var n int64
			require.NoError(tb, s.db.QueryRow("SELECT count(*) FROM "+s.bodyIndex.table+" WHERE day = ?", day).Scan(&n))
			body += n
			require.NoError(tb, s.db.QueryRow("SELECT count(*) FROM "+s.termIndex.table+" WHERE day = ?", day).Scan(&n))
			terms += n
		}
		if body >= full && terms >= full {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("log index: %d/%d of %d blocks after 5 minutes", body, terms, full)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkLogSearchProbes measures log searches through the store API (a rare body token
// the gram filters find, a rare body substring, an attribute filter on one request.id) and
// SQL scans of the partition bounded by rowid (one range, an OR of two, an IN list), in
// process CPU per query, on a data dir written once (issue 17 item 3; docs/performance.md,
// "DuckDB 2.0.0 against 1.4"):
//
//	go test ./internal/store/duck/ -run '^$' -bench BenchmarkLogSearchProbes -benchtime 20x \
//	  -args -logsearch.dir DIR [-logsearch.plan -test.v]
func BenchmarkLogSearchProbes(b *testing.B) {
	n := *logSearchLogs
	dir := *logSearchDir
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "loupe.duckdb")
	ctx := context.Background()
	if _, err := os.Stat(path); err != nil {
		s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
		require.NoError(b, err)
		const batch = 10_000
		for first := 0; first < n; first += batch {
			require.NoError(b, s.WriteLogs(ctx, genLogs(first, batch)))
			if first == n/2 {
				body := plog.NewLogs()
				lr := body.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(first) * time.Millisecond)))
				lr.Body().SetStr("payment declined for order ZQX-4417-needle")
				require.NoError(b, s.WriteLogs(ctx, body))
			}
		}
		require.NoError(b, s.Close())
	}
	s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	waitLogIndexed(b, s)
	needleID := logSearchNeedleID(n)
	rows := func(b *testing.B, q store.LogQuery, want int) {
		c := 0
		for _, err := range s.QueryLogs(ctx, q) {
			if err != nil {
				b.Fatal(err)
			}
			c++
		}
		if want >= 0 && c != want {
			b.Fatalf("got %d records, want %d", c, want)
		}
	}
	run := func(name string, f func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			f(b) // warm
			b.ResetTimer()
			c0 := cpuTime()
			for range b.N {
				f(b)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
	run("RareToken", func(b *testing.B) {
		rows(b, store.LogQuery{LogFilter: store.LogFilter{Contains: "zqx-4417-NEEDLE"}}, 1)
	})
	run("RareUserToken", func(b *testing.B) {
		rows(b, store.LogQuery{LogFilter: store.LogFilter{Contains: "for user 12345"}}, -1)
	})
	run("AttrFilter", func(b *testing.B) {
		rows(b, store.LogQuery{LogFilter: store.LogFilter{Attrs: []store.AttrFilter{
			{Key: "request.id", Op: store.MatchEqual, Value: needleID}}}}, 1)
	})
	// Raw rowid probes on the largest day partition.
	days := s.logs.allDays()
	var table string
	var maxRows int64
	for _, d := range days {
		t := dayName(s.logs.schema.prefix, d)
		var c int64
		require.NoError(b, s.db.QueryRow("SELECT count(*) FROM "+t).Scan(&c))
		if c > maxRows {
			maxRows, table = c, t
		}
	}
	probes := map[string]string{
		"RowidRange":      "SELECT count(*) FROM " + table + " WHERE rowid BETWEEN 500000 AND 532767 AND body LIKE '%zzzz%'",
		"RowidOrOfRanges": "SELECT count(*) FROM " + table + " WHERE (rowid BETWEEN 500000 AND 532767 OR rowid BETWEEN 900000 AND 932767) AND body LIKE '%zzzz%'",
		"RowidIn10":       "SELECT count(*) FROM " + table + " WHERE rowid IN (500000,500001,500002,500003,500004,500005,500006,500007,500008,500009) AND body LIKE '%zzzz%'",
		"FullScan":        "SELECT count(*) FROM " + table + " WHERE body LIKE '%zzzz%'",
	}
	for _, name := range []string{"FullScan", "RowidRange", "RowidOrOfRanges", "RowidIn10"} {
		q := probes[name]
		if *logSearchPlan {
			b.Logf("%s (%s, %d rows):\n%s", name, table, maxRows, explainAnalyze(b, s.db, q))
		}
		run("SQL"+name, func(b *testing.B) {
			var c int64
			require.NoError(b, s.db.QueryRow(q).Scan(&c))
		})
	}
}

// explainAnalyze returns the lines of EXPLAIN ANALYZE q that say what the scan read.
func explainAnalyze(b *testing.B, db *sql.DB, q string) string {
	r, err := db.Query("EXPLAIN ANALYZE " + q)
	require.NoError(b, err)
	defer r.Close()
	var out []string
	for r.Next() {
		var k, v string
		require.NoError(b, r.Scan(&k, &v))
		for _, l := range strings.Split(v, "\n") {
			if strings.Contains(l, "Row Groups") || strings.Contains(l, "Filters") || strings.Contains(l, "rowid") || strings.Contains(l, "Total Time") || strings.Contains(l, "Type:") || strings.Contains(l, "rows") {
				out = append(out, strings.TrimSpace(l))
			}
		}
	}
	return strings.Join(out, "\n")
}
