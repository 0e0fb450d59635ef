//go:build chdb

package chspans

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// redSpan is one span of the ServiceStats test data.
type redSpan struct {
	service, name string
	kind          ptrace.SpanKind
	root          bool
	start         time.Duration // after t0
	dur           time.Duration
	isError       bool
}

func writeRED(t *testing.T, s *Store, t0 time.Time, spans []redSpan) {
	t.Helper()
	td := ptrace.NewTraces()
	for i, r := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", r.service)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{9, byte(i + 1)})
		sp.SetSpanID(pcommon.SpanID{9, byte(i + 1)})
		if !r.root {
			sp.SetParentSpanID(pcommon.SpanID{8, byte(i + 1)})
		}
		sp.SetName(r.name)
		sp.SetKind(r.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(r.start)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(r.start + r.dur)))
		if r.isError {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	require.NoError(t, s.WriteTraces(context.Background(), td))
}

// redKey names a row of ServiceStats' answer for comparison.
func redKey(r store.ServiceStatsRow, t0 time.Time) string {
	b := "all"
	if !r.Bucket.IsZero() {
		b = fmt.Sprint(r.Bucket.Sub(t0))
	}
	return fmt.Sprintf("%q total=%v bucket=%s", r.Group, r.Total, b)
}

func checkRED(t *testing.T, s *Store, q store.ServiceStatsQuery, want map[string][5]float64) {
	t.Helper()
	rows, err := s.ServiceStats(context.Background(), q)
	require.NoError(t, err)
	got := map[string]store.ServiceStatsRow{}
	for _, r := range rows {
		got[redKey(r, q.Start)] = r
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Len(t, got, len(want), "rows: %v", keys)
	for k, w := range want {
		r, ok := got[k]
		require.True(t, ok, "row %s missing; have %v", k, keys)
		require.Equal(t, int64(w[0]), r.Count, "%s count", k)
		require.Equal(t, int64(w[1]), r.Errors, "%s errors", k)
		// Quantiles are interpolated in float64: compare to a nanosecond.
		for i, d := range []time.Duration{r.P50, r.P95, r.P99} {
			require.InDelta(t, w[2+i]*float64(time.Millisecond), float64(d), 1, "%s quantile %d", k, i)
		}
	}
}

// TestServiceStats checks RED rows against figures computed by hand: quantiles are
// interpolated between the closest ranks (R-7, as DuckDB's quantile_cont).
func TestServiceStats(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	writeRED(t, s, t0, []redSpan{
		{"api", "GET", ptrace.SpanKindServer, true, 0, 10 * ms, false},
		{"api", "GET", ptrace.SpanKindServer, true, 10 * time.Second, 20 * ms, true},
		{"api", "GET", ptrace.SpanKindServer, true, 70 * time.Second, 30 * ms, false},
		// A client span of api: not an entry span, so not in the per-service figures.
		{"api", "call", ptrace.SpanKindClient, false, 20 * time.Second, 100 * ms, false},
		// db has no entry span: all its spans count.
		{"db", "query", ptrace.SpanKindClient, false, 80 * time.Second, 5 * ms, false},
		// Outside the range.
		{"api", "GET", ptrace.SpanKindServer, true, 3 * time.Minute, 1 * ms, false},
		{"api", "GET", ptrace.SpanKindServer, true, -time.Second, 1 * ms, false},
	})
	q := store.ServiceStatsQuery{Start: t0, End: t0.Add(2 * time.Minute), Step: time.Minute}
	// count, errors, p50, p95, p99 (ms)
	checkRED(t, s, q, map[string][5]float64{
		`"api" total=false bucket=0s`:   {2, 1, 15, 19.5, 19.9},
		`"api" total=false bucket=1m0s`: {1, 0, 30, 30, 30},
		`"db" total=false bucket=1m0s`:  {1, 0, 5, 5, 5},
		`"api" total=false bucket=all`:  {3, 1, 20, 29, 29.8},
		`"db" total=false bucket=all`:   {1, 0, 5, 5, 5},
		`"" total=true bucket=0s`:       {2, 1, 15, 19.5, 19.9},
		`"" total=true bucket=1m0s`:     {2, 0, 17.5, 28.75, 29.75},
		`"" total=true bucket=all`:      {4, 1, 15, 28.5, 29.7},
	})

	// One service: every span of it, by span name.
	q.Service = "api"
	checkRED(t, s, q, map[string][5]float64{
		`"GET" total=false bucket=0s`:   {2, 1, 15, 19.5, 19.9},
		`"GET" total=false bucket=1m0s`: {1, 0, 30, 30, 30},
		`"call" total=false bucket=0s`:  {1, 0, 100, 100, 100},
		`"GET" total=false bucket=all`:  {3, 1, 20, 29, 29.8},
		`"call" total=false bucket=all`: {1, 0, 100, 100, 100},
		`"" total=true bucket=0s`:       {3, 1, 20, 92, 98.4},
		`"" total=true bucket=1m0s`:     {1, 0, 30, 30, 30},
		`"" total=true bucket=all`:      {4, 1, 25, 89.5, 97.9},
	})

	// An empty range has no rows; bad queries are refused.
	rows, err := s.ServiceStats(context.Background(), store.ServiceStatsQuery{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), Step: time.Minute})
	require.NoError(t, err)
	require.Empty(t, rows)
	_, err = s.ServiceStats(context.Background(), store.ServiceStatsQuery{Start: t0, End: t0.Add(time.Hour)})
	require.ErrorContains(t, err, "step must be positive")
	_, err = s.ServiceStats(context.Background(), store.ServiceStatsQuery{Start: t0, End: t0, Step: time.Minute})
	require.ErrorContains(t, err, "is not before end")
}
