package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TagStore is the optional capability of a trace store that the Tempo tag endpoints use
// (api/tempo.TagReader): span and resource attribute keys, and the values of one key.
type TagStore interface {
	SpanAttributeKeys(ctx context.Context, start, end time.Time, limit int) (span, resource []string, err error)
	SpanAttributeValues(ctx context.Context, scope, key string, start, end time.Time, limit int) ([]string, error)
}

// testTraceTags checks the tag catalogs of a store that has them: keys and values sorted,
// distinct, limited, by scope ("span", "resource" or "" for both) and time range.
func testTraceTags(t *testing.T, open TraceOpener) {
	s, _ := openFresh(t, open)
	tags, ok := s.(TagStore)
	if !ok {
		t.Skip("this trace store has no tag catalogs (optional)")
	}
	ctx := context.Background()
	day1 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour) // another partition

	td := ptrace.NewTraces()
	add := func(service string, start time.Time, attrs map[string]any, res map[string]any) {
		rs := td.ResourceSpans().AppendEmpty()
		raw := map[string]any{"service.name": service}
		for k, v := range res {
			raw[k] = v
		}
		require.NoError(t, rs.Resource().Attributes().FromRaw(raw))
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

	span, res, err := tags.SpanAttributeKeys(ctx, time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"a/b~c", "code", "db.system", "host", "http.route"}, span)
	require.Equal(t, []string{"host", "service.name"}, res)

	span, res, err = tags.SpanAttributeKeys(ctx, day1, day1.Add(time.Hour), 2)
	require.NoError(t, err)
	require.Equal(t, []string{"a/b~c", "code"}, span, "sorted, limited, first day only")
	require.Equal(t, []string{"host", "service.name"}, res)

	f := func(scope, key string, start, end time.Time, want ...string) {
		t.Helper()
		got, err := tags.SpanAttributeValues(ctx, scope, key, start, end, 100)
		require.NoError(t, err)
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, got, "%s %s", scope, key)
	}
	var zero time.Time
	f("span", "http.route", zero, zero, "/a", "/b")
	f("span", "code", zero, zero, "200", "500")
	f("span", "a/b~c", zero, zero, "x")
	f("resource", "host", zero, zero, "h1", "h2")
	f("span", "host", zero, zero, "span-level")
	f("", "host", zero, zero, "h1", "h2", "span-level")
	f("resource", "service.name", zero, zero, "api", "db")
	f("resource", "service.name", day2, zero, "db")
	f("span", "missing", zero, zero)

	_, err = tags.SpanAttributeValues(ctx, "event", "x", zero, zero, 10)
	require.ErrorContains(t, err, `unknown scope "event"`)
	_, err = tags.SpanAttributeValues(ctx, "span", "", zero, zero, 10)
	require.ErrorContains(t, err, "empty key")
}
