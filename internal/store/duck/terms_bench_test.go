package duck

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// noRows is a rowFilter that builds nothing, for measuring ingest without a filter.
type noRows struct{}

func (noRows) add(*logRow) bool { return false }
func (noRows) bytes() []byte    { return nil }

// BenchmarkWriteLogsTermFilters measures the ingest cost of the term filters: WriteLogs
// of the harness's records (batches of 1,000) with the writer building the term filters
// and without, in CPU time of the whole process per record. The background indexer is
// stopped in both, so neither reads blocks back. Run both in one sitting
// (-benchtime=300x -count=3) and compare the cpu-ns/record.
func BenchmarkWriteLogsTermFilters(b *testing.B) {
	g, err := loadgen.NewLogGen(loadgen.DefaultLogOptions())
	require.NoError(b, err)
	const distinct = 40
	batches := make([]plog.Logs, distinct)
	for i := range batches {
		batches[i] = g.Logs(1000)
	}
	for _, tc := range []struct {
		name  string
		terms bool
	}{{"with", true}, {"without", false}} {
		b.Run(tc.name, func(b *testing.B) {
			s, _ := openBench(b)
			s.indexer.stop()
			if !tc.terms {
				s.openTerms = newOpenBlocks(s.termIndex, func() rowFilter { return noRows{} })
			}
			ctx := context.Background()
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				c0 := cpuTime()
				require.NoError(b, s.WriteLogs(ctx, batches[i%distinct]))
				cpu += cpuTime() - c0
			}
			b.StopTimer()
			records := float64(b.N * 1000)
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
			b.ReportMetric(records/cpu.Seconds(), "records/cpu-s")
			require.NoError(b, s.Close())
		})
	}
}
