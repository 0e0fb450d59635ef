package duck

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestGetTraceResourceCache: a trace lookup reads its resources once; the next lookup of
// a trace with the same resources takes them from memory, without the second query.
// Shown by deleting the rows after the first lookup: the second still nests the spans
// under their resources (before the cache it failed with "span resource ... is missing").
func TestGetTraceResourceCache(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.WriteTraces(ctx, genTraces(0, 100)))

	first, err := s.GetTrace(ctx, benchTraceID(1))
	require.NoError(t, err)
	require.Equal(t, 10, first.SpanCount())
	_, err = s.db.Exec("DELETE FROM span_resources")
	require.NoError(t, err)

	again, err := s.GetTrace(ctx, benchTraceID(1))
	require.NoError(t, err)
	require.Equal(t, first.ResourceSpans().Len(), again.ResourceSpans().Len())
	for i := range again.ResourceSpans().Len() {
		want := first.ResourceSpans().At(i).Resource().Attributes().AsRaw()
		require.Equal(t, want, again.ResourceSpans().At(i).Resource().Attributes().AsRaw())
	}
}

func TestSpanResourceCacheBound(t *testing.T) {
	var c spanResourceCache
	big := strings.Repeat("x", maxSpanResourceCacheBytes/2+1)
	c.put(map[int64]spanResource{1: {big}})
	found, missing := c.get([]int64{1, 2})
	require.Len(t, found, 1)
	require.Equal(t, []int64{2}, missing)
	// Over the bound the cache starts afresh rather than growing.
	c.put(map[int64]spanResource{2: {big}})
	found, missing = c.get([]int64{1, 2})
	require.Len(t, found, 1)
	require.Equal(t, []int64{1}, missing)
	require.LessOrEqual(t, c.bytes, maxSpanResourceCacheBytes)
}
