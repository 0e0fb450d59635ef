package duck

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSpanAttributeKeysAndValues(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := context.Background()
	day1 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour) // another partition

	td := ptrace.NewTraces()
	add := func(service string, start time.Time, attrs map[string]any, res map[string]any) {
		rs := td.ResourceSpans().AppendEmpty()
		require.NoError(t, rs.Resource().Attributes().FromRaw(mergeRaw(res, map[string]any{"service.name": service})))
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, byte(td.ResourceSpans().Len())})
		sp.SetSpanID(pcommon.SpanID{1, byte(td.ResourceSpans().Len())})
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		require.NoError(t, sp.Attributes().FromRaw(attrs))
	}
	add("api", day1, map[string]any{"http.route": "/a", "code": int64(200), "a/b~c": "x"}, map[string]any{"host": "h1"})
	add("api", day1.Add(time.Minute), map[string]any{"http.route": "/b", "code": int64(500)}, map[string]any{"host": "h2"})
	add("db", day2, map[string]any{"db.system": "pg", "host": "span-level"}, nil)
	require.NoError(t, s.WriteTraces(ctx, td))

	span, res, err := s.SpanAttributeKeys(ctx, time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"a/b~c", "code", "db.system", "host", "http.route"}, span)
	require.Equal(t, []string{"host", "service.name"}, res)

	span, res, err = s.SpanAttributeKeys(ctx, day1, day1.Add(time.Hour), 2)
	require.NoError(t, err)
	require.Equal(t, []string{"a/b~c", "code"}, span, "sorted, limited, first day only")
	require.Equal(t, []string{"host", "service.name"}, res)

	f := func(scope, key string, start, end time.Time, want ...string) {
		t.Helper()
		got, err := s.SpanAttributeValues(ctx, scope, key, start, end, 100)
		require.NoError(t, err)
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, got, "%s %s", scope, key)
	}
	var zero time.Time
	f(ScopeSpan, "http.route", zero, zero, "/a", "/b")
	f(ScopeSpan, "code", zero, zero, "200", "500")
	f(ScopeSpan, "a/b~c", zero, zero, "x")
	f(ScopeResource, "host", zero, zero, "h1", "h2")
	f(ScopeSpan, "host", zero, zero, "span-level")
	f("", "host", zero, zero, "h1", "h2", "span-level")
	f(ScopeResource, "service.name", zero, zero, "api", "db")
	f(ScopeResource, "service.name", day2, zero, "db")
	f(ScopeSpan, "missing", zero, zero)

	_, err = s.SpanAttributeValues(ctx, "event", "x", zero, zero, 10)
	require.ErrorContains(t, err, `unknown scope "event"`)
	_, err = s.SpanAttributeValues(ctx, ScopeSpan, "", zero, zero, 10)
	require.ErrorContains(t, err, "empty key")
}

func mergeRaw(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
