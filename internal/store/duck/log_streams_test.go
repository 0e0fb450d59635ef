package duck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// TestStreamsBySpans: the stream list LogQL starts from, answered from the per-partition
// stream summaries, is the one the GROUP BY over the partitions gives (Streams with
// stats), for time ranges inside, across and outside the streams' spans, over two days,
// and after more rows arrive (the summary adds the new rows only).
func TestStreamsBySpans(t *testing.T) {
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	base := time.Date(2026, 11, 18, 23, 0, 0, 0, time.UTC) // the writes cross midnight
	write := func(batch int) {
		ld := plog.NewLogs()
		for r := range 3 {
			rl := ld.ResourceLogs().AppendEmpty()
			svc := fmt.Sprintf("svc-%d", (batch+r)%5)
			rl.Resource().Attributes().PutStr("service.name", svc)
			rl.Resource().Attributes().PutStr("pod", fmt.Sprintf("p-%d", rng.IntN(4)))
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for range 20 {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(rng.IntN(7200)) * time.Second)))
				lr.Body().SetStr("line")
			}
		}
		require.NoError(t, s.WriteLogs(ctx, ld))
	}
	keys := func(st []plan.Stream) []string {
		var out []string
		for _, x := range st {
			out = append(out, fmt.Sprintf("%d %s %v", x.Key, x.Service, x.Resource))
		}
		slices.Sort(out)
		return out
	}
	check := func() {
		t.Helper()
		for range 40 {
			start := base.Add(time.Duration(rng.IntN(8000)-400) * time.Second).UnixNano()
			end := start + int64(rng.IntN(4000))*int64(time.Second)
			if rng.IntN(5) == 0 {
				end = 0 // unbounded
			}
			fast, err := s.LogQL().Streams(ctx, start, end, false)
			require.NoError(t, err)
			slow, err := s.LogQL().Streams(ctx, start, end, true)
			require.NoError(t, err)
			require.Equal(t, keys(slow), keys(fast), "range %d-%d", start, end)
		}
	}
	for batch := range 6 {
		write(batch)
	}
	check()
	for batch := 6; batch < 12; batch++ {
		write(batch)
	}
	check()
}
