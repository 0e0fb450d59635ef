package duck

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

var (
	getTraceSpans = flag.Int("gettrace.spans", 500_000, "spans written before BenchmarkGetTrace (traces of 10 spans)")
	getTraceDir   = flag.String("gettrace.dir", "", "keep BenchmarkGetTrace's database in this directory and reuse it (written once)")
)

// BenchmarkGetTrace measures trace by id in the store alone: the id filters, DuckDB's
// scan of the candidate blocks and the rebuilding of ptrace from rows. The database is
// written once (in -gettrace.dir when set, for reruns), reopened, and the block index
// caught up before the timed part, as on a server that has been running.
func BenchmarkGetTrace(b *testing.B) {
	n := *getTraceSpans
	dir := *getTraceDir
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
			require.NoError(b, s.WriteTraces(ctx, genTraces(first, batch)))
		}
		require.NoError(b, s.Close())
	}
	s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	waitIndexed(b, s)
	traces := n / 10
	b.ResetTimer()
	b.ReportAllocs()
	c0 := cpuTime()
	for i := range b.N {
		td, err := s.GetTrace(ctx, benchTraceID(uint64((i*7919)%traces)))
		if err != nil || td.SpanCount() != 10 {
			b.Fatalf("trace %d: %v, %d spans", i, err, td.SpanCount())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// waitIndexed waits until the trace id index covers every full block of the spans.
func waitIndexed(tb testing.TB, s *Store) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		full, indexed := int64(0), int64(0)
		for _, day := range s.spans.allDays() {
			var rows int64
			require.NoError(tb, s.db.QueryRow("SELECT count(*) FROM "+dayName(s.spans.schema.prefix, day)).Scan(&rows))
			full += rows / s.traceIndex.blockRows
			var n int64
			require.NoError(tb, s.db.QueryRow("SELECT count(*) FROM span_traces WHERE day = ?", day).Scan(&n))
			indexed += n
		}
		if indexed >= full {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("trace index: %d of %d blocks after 5 minutes", indexed, full)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
