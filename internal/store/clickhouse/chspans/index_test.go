//go:build chdb

package chspans

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"

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

// planGranules returns the granules kept and considered by one index step of an EXPLAIN
// indexes = 1 plan: step is PrimaryKey or a skip index's name.
func planGranules(t *testing.T, plan, step string) (kept, of int) {
	t.Helper()
	head := regexp.QuoteMeta(step) + `\n`
	if step != "PrimaryKey" {
		head = `Name: ` + regexp.QuoteMeta(step) + `\n`
	}
	m := regexp.MustCompile(`(?s)` + head + `.*?Granules: (\d+)/(\d+)`).FindStringSubmatch(plan)
	require.NotNil(t, m, "no %s step in the plan:\n%s", step, plan)
	kept, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	of, err = strconv.Atoi(m[2])
	require.NoError(t, err)
	return kept, of
}

// TestTraceLookupUsesIndexes checks the two reads of a trace lookup on one day of 40,000
// spans (20,000 traces of 2 spans over 5 services): span_traces is read by its primary key
// (binary search: 1 granule of its 3), and spans by the time range that gives through the
// (service, start) key, then the trace id bloom filter, down to the granules that hold the
// trace's spans: one per service, and never more than the trace has spans.
func TestTraceLookupUsesIndexes(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	td, ids := genTraces(7, 20_000, 2, start, 2*time.Millisecond)
	require.NoError(t, s.WriteTraces(ctx, td))
	// One part per table, as merges leave a day.
	for _, table := range tables {
		require.NoError(t, s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.table(table)+" FINAL"))
	}
	for _, i := range []int{0, 7777, 19_999} {
		id := ids[i]
		got, err := s.GetTrace(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 2, got.SpanCount())

		lookup := explain(t, s, s.traceRangeQuery(chsql.String(id.String())))
		require.Contains(t, lookup, "Search Algorithm: binary search", lookup)
		kept, of := planGranules(t, lookup, "PrimaryKey")
		require.Equal(t, 1, kept, lookup)
		require.Equal(t, 3, of, "20,000 rows in granules of 8,192")

		plan := explain(t, s, s.getTraceQuery(id))
		keyKept, keyOf := planGranules(t, plan, "PrimaryKey")
		require.Equal(t, 40, keyOf, "40,000 spans in granules of 1,024")
		// The trace's 2 ms are in one or two granules of each of the 5 services.
		require.LessOrEqual(t, keyKept, 10, plan)
		bloomKept, bloomOf := planGranules(t, plan, "idx_trace_id")
		require.Equal(t, keyKept, bloomOf, plan)
		require.GreaterOrEqual(t, bloomKept, 1, plan)
		require.LessOrEqual(t, bloomKept, 2, "the granules of the trace's 2 spans: %s", plan)
	}
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
