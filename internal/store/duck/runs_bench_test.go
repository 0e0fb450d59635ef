package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
)

// benchRuns stores n runs of 20 job names over 30 days, each with two tags.
func benchRuns(b *testing.B, n int) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	var batch []runs.Run
	for i := range n {
		rec := runstest.Record(i+1, fmt.Sprintf("job%02d", i%20), runs.StatusSucceeded,
			runstest.Now.Add(-time.Duration(i)*30*24*time.Hour/time.Duration(n)))
		rec.Tags = map[string]string{"lr": fmt.Sprint(i % 7), "seed": fmt.Sprint(i % 3)}
		batch = append(batch, runstest.Parse(b, rec))
		if len(batch) == 1000 {
			require.NoError(b, s.UpsertRuns(context.Background(), batch))
			batch = batch[:0]
		}
	}
	require.NoError(b, s.UpsertRuns(context.Background(), batch))
	return s
}

// BenchmarkListRuns is one page of the UI's run list over 100k runs: a job name, a tag and
// the default 7-day range.
func BenchmarkListRuns(b *testing.B) {
	s := benchRuns(b, 100_000)
	q := runs.Query{Name: "job07", Tags: map[string]string{"lr": "3"}, Start: runstest.Now.Add(-7 * 24 * time.Hour),
		End: runstest.Now, Limit: 100}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err := s.ListRuns(context.Background(), q)
		if err != nil || len(page.Runs) == 0 {
			b.Fatal(err, len(page.Runs))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkUpsertRuns is the write of one run record, as the Tap does for each start and end.
func BenchmarkUpsertRuns(b *testing.B) {
	s := benchRuns(b, 10_000)
	rec := runstest.Parse(b, runstest.Record(1, "job00", runs.StatusSucceeded, runstest.Now))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.UpsertRuns(context.Background(), []runs.Run{rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
