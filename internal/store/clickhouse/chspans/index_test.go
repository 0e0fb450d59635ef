//go:build chdb

package chspans

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// explain returns ClickHouse's EXPLAIN indexes=1 of query, one line per plan line.
func explain(t *testing.T, s *Store, query string) string {
	t.Helper()
	lines, err := s.strings(context.Background(), "EXPLAIN indexes = 1 "+query)
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

// TestGetTraceReadsLittle shows that a trace lookup does not scan all spans: of three days
// of spans, ClickHouse's plan for GetTrace reads one day partition, and within it only the
// granules of the trace's time range that the trace id bloom filter keeps.
func TestGetTraceReadsLittle(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// 3 days x 4,000 traces x 5 spans = 60k spans, several granules per partition.
	for day := range 3 {
		td, _ := genTraces(uint64(day), 4000, 5, start.Add(time.Duration(day)*24*time.Hour), 20*time.Second)
		require.NoError(t, s.WriteTraces(ctx, td))
	}
	_, ids := genTraces(1, 4000, 5, start.Add(24*time.Hour), 20*time.Second)
	td, err := s.GetTrace(ctx, ids[1234])
	require.NoError(t, err)
	require.Equal(t, 5, td.SpanCount())

	plan := explain(t, s, s.getTraceQuery(ids[1234]))
	t.Log(plan)
	require.Contains(t, plan, "Parts: 1/3", "one day partition of three is read")
	require.Contains(t, plan, "idx_trace_id", "the trace id bloom filter is used")
}

// TestAttrFilterUsesBloomIndex: an attribute equality filter is answered first by the
// bloom_filter indexes on the map values, which skip granules without the value.
func TestAttrFilterUsesBloomIndex(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	td, _ := genTraces(3, 6000, 5, start, time.Second)
	// One span of 30,000 has the value looked for.
	td.ResourceSpans().At(2).ScopeSpans().At(0).Spans().At(3000).Attributes().PutStr("needle", "found")
	require.NoError(t, s.WriteTraces(ctx, td))
	q := store.TraceQuery{Attrs: []store.AttrFilter{{Key: "needle", Op: store.MatchEqual, Value: "found"}}}
	found := 0
	for _, err := range s.FindTraces(ctx, q) {
		require.NoError(t, err)
		found++
	}
	require.Equal(t, 1, found)
	c, err := s.traceConds(q)
	require.NoError(t, err)
	plan := explain(t, s, s.matchQuery(c, 20))
	t.Log(plan)
	require.Contains(t, plan, "idx_attr_values")
	// The filter tests the span's and the resource's values (an OR), so each index alone
	// keeps every granule; ClickHouse combines them into the one granule with the value.
	m := regexp.MustCompile(`Combined skip indexes[^│]*?Granules: (\d+)/(\d+)`).FindStringSubmatch(plan)
	require.NotNil(t, m, "no combined skip index step in the plan")
	require.Equal(t, "1", m[1], "granules read")
	require.Equal(t, "30", m[2], "granules of 1,024 spans")
}
