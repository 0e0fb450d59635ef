package duck

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// BenchmarkServiceStats measures the services/red query over 1M spans (100,000 traces of
// 10 spans, 16 minutes), per service and per span name of one service, and reports spans
// scanned per second.
func BenchmarkServiceStats(b *testing.B) {
	const spans = 1_000_000
	const batch = 10_000
	s, _ := openBench(b)
	defer s.Close()
	ctx := context.Background()
	for first := 0; first < spans; first += batch {
		require.NoError(b, s.WriteTraces(ctx, genTraces(first, batch)))
	}
	q := store.ServiceStatsQuery{Start: benchStart, End: benchStart.Add(spans * time.Millisecond), Step: 15 * time.Second}
	for _, c := range []struct {
		name    string
		service string
	}{{"by_service", ""}, {"by_span_name", "checkout"}} {
		b.Run(c.name, func(b *testing.B) {
			q := q
			q.Service = c.service
			b.ReportAllocs()
			for range b.N {
				rows, err := s.ServiceStats(ctx, q)
				if err != nil || len(rows) == 0 {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
		})
	}
}
