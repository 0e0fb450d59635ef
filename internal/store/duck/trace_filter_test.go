package duck

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

func TestTraceIndex(t *testing.T) {
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	ctx := context.Background()
	for first := 0; first < 1050; first += 150 {
		require.NoError(t, s.WriteTraces(ctx, genTraces(first, 150)))
	}
	waitFilters(t, s, s.traceIndex, 10)

	day := dayOf(benchStart.UnixNano())
	hi, _ := traceIDHalves(benchTraceID(42))
	ranges, err := s.traceIndex.candidates(ctx, s.db, day, 0.5, func(f []byte) bool { return traceFilterHas(f, hi) })
	require.NoError(t, err)
	require.NotNil(t, ranges, "the index prunes")
	require.Less(t, len(ranges), 5, "a trace's blocks (it may straddle two) and the tail: %v", ranges)

	// Every trace is found whole, in indexed blocks and in the tail alike.
	for trace := range 105 {
		td, err := s.GetTrace(ctx, benchTraceID(uint64(trace)))
		require.NoError(t, err, "trace %d", trace)
		require.Equal(t, 10, td.SpanCount(), "trace %d", trace)
	}
	_, err = s.GetTrace(ctx, benchTraceID(100_000))
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.DropBefore(ctx, store.SignalSpans, benchStart.Add(48*time.Hour)))
	var n int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM span_traces").Scan(&n))
	require.Zero(t, n, "retention drops the filters with their partition")
}
