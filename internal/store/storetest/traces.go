package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

const numTraces = 120

// RunTraces runs the span cases of the suite.
func RunTraces(t *testing.T, open TraceOpener) {
	traces := makeTraces(numTraces)
	s, _ := openFresh(t, open)
	ctx := context.Background()
	require.NoError(t, s.WriteTraces(ctx, toPtrace(traces[:numTraces/2])))
	require.NoError(t, s.WriteTraces(ctx, toPtrace(traces[numTraces/2:])))

	t.Run("get trace", func(t *testing.T) { testGetTrace(t, s, traces) })
	t.Run("round trip", func(t *testing.T) { testTraceRoundTrip(t, open) })
	t.Run("find traces", func(t *testing.T) { testFindTraces(t, s, traces) })
	t.Run("names", func(t *testing.T) { testTraceNames(t, s) })
	t.Run("bad input", func(t *testing.T) { testTraceBadInput(t, s) })
	t.Run("concurrent writes", func(t *testing.T) { testTraceConcurrent(t, open) })
	t.Run("reopen", func(t *testing.T) { testTraceReopen(t, open) })
	t.Run("retention", func(t *testing.T) { testTraceRetention(t, open) })
	t.Run("tag catalogs", func(t *testing.T) { testTraceTags(t, open) })
}

func testGetTrace(t *testing.T, s TraceStore, traces []testTrace) {
	ctx := context.Background()
	for _, i := range []int{0, 1, 59, 60, numTraces - 1} {
		tr := traces[i]
		td, err := s.GetTrace(ctx, tr.id)
		require.NoError(t, err)
		require.Equal(t, len(tr.spans), td.SpanCount())
		got := map[pcommon.SpanID]ptrace.Span{}
		forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, tr.id, sp.TraceID())
			got[sp.SpanID()] = sp
		})
		for _, want := range tr.spans {
			sp, ok := got[want.id]
			require.True(t, ok, "span %s missing", want.id)
			require.Equal(t, want.parent, sp.ParentSpanID(), "parent link")
			require.Equal(t, want.name, sp.Name())
			require.Equal(t, want.start, sp.StartTimestamp().AsTime())
		}
	}
	_, err := s.GetTrace(ctx, pcommon.TraceID{1, 2, 3})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func forEachSpan(td ptrace.Traces, f func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				f(rs, ss, ss.Spans().At(k))
			}
		}
	}
}

// spanJSON renders one span with its resource and scope as OTLP JSON, the exact form the
// round trip compares.
func spanJSON(t *testing.T, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) string {
	td := ptrace.NewTraces()
	r := td.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(r.Resource())
	r.SetSchemaUrl(rs.SchemaUrl())
	s := r.ScopeSpans().AppendEmpty()
	ss.Scope().CopyTo(s.Scope())
	s.SetSchemaUrl(ss.SchemaUrl())
	sp.CopyTo(s.Spans().AppendEmpty())
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func spansByID(t *testing.T, td ptrace.Traces) map[pcommon.SpanID]string {
	out := map[pcommon.SpanID]string{}
	forEachSpan(td, func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) {
		out[sp.SpanID()] = spanJSON(t, rs, ss, sp)
	})
	return out
}

// testTraceRoundTrip writes a trace using every OTLP field and value type and expects
// each span back exactly, grouped under the same resources and scopes.
func testTraceRoundTrip(t *testing.T, open TraceOpener) {
	s, _ := openFresh(t, open)
	ctx := context.Background()
	td, tid := richTrace()
	require.NoError(t, s.WriteTraces(ctx, td))
	got, err := s.GetTrace(ctx, tid)
	require.NoError(t, err)
	want := spansByID(t, td)
	have := spansByID(t, got)
	require.Len(t, have, len(want))
	for id, w := range want {
		require.JSONEq(t, w, have[id], "span %s", id)
		require.Equal(t, w, have[id], "span %s: attribute order or number form differs", id)
	}
	require.Equal(t, td.ResourceSpans().Len(), got.ResourceSpans().Len(), "resources")
	scopes := func(td ptrace.Traces) int {
		n := 0
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			n += td.ResourceSpans().At(i).ScopeSpans().Len()
		}
		return n
	}
	require.Equal(t, scopes(td), scopes(got), "scopes")
}

func testFindTraces(t *testing.T, s TraceStore, traces []testTrace) {
	attr := func(k string, op store.MatchOp, v string) []store.AttrFilter {
		return []store.AttrFilter{{Key: k, Op: op, Value: v}}
	}
	cases := []struct {
		name string
		q    store.TraceQuery
	}{
		{"all", store.TraceQuery{}},
		{"service", store.TraceQuery{Service: "db"}},
		{"unknown service", store.TraceQuery{Service: "nope"}},
		{"span name", store.TraceQuery{SpanName: "GET /a"}},
		{"service and name", store.TraceQuery{Service: "api", SpanName: "handle"}},
		{"span attr", store.TraceQuery{Attrs: attr("db.system", store.MatchEqual, "sqlite")}},
		{"int attr", store.TraceQuery{Attrs: attr("i", store.MatchEqual, "17")}},
		{"attr regexp", store.TraceQuery{Attrs: attr("i", store.MatchRegexp, "1[0-9]")}},
		{"attr not equal", store.TraceQuery{Attrs: attr("http.route", store.MatchNotEqual, "/a")}},
		{"resource attr", store.TraceQuery{Attrs: attr("host.name", store.MatchEqual, "h1")}},
		{"min duration", store.TraceQuery{MinDuration: 80 * time.Millisecond}},
		{"max duration", store.TraceQuery{Service: "frontend", MaxDuration: 20 * time.Millisecond}},
		{"duration window", store.TraceQuery{Service: "db", MinDuration: 2 * time.Millisecond, MaxDuration: 3 * time.Millisecond}},
		{"errors only", store.TraceQuery{ErrorsOnly: true}},
		// Conditions apply to one span at once: frontend spans never fail.
		{"errors of frontend", store.TraceQuery{Service: "frontend", ErrorsOnly: true}},
		{"time range", store.TraceQuery{Start: base.Add(20 * time.Hour), End: base.Add(30 * time.Hour)}},
		{"time range and service", store.TraceQuery{Start: base.Add(40 * time.Hour), End: base.Add(70 * time.Hour), Service: "db", ErrorsOnly: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Limit = 1000
			want := wantTraces(traces, c.q)
			got := collectTraces(t, s, c.q)
			require.Equal(t, want, got)
		})
	}
	t.Run("limit", func(t *testing.T) {
		got := collectTraces(t, s, store.TraceQuery{Limit: 3})
		require.Equal(t, wantTraces(traces, store.TraceQuery{})[:3], got)
		got = collectTraces(t, s, store.TraceQuery{})
		require.Len(t, got, 20, "default limit")
	})
}

func collectTraces(t *testing.T, r store.TraceReader, q store.TraceQuery) []store.TraceSummary {
	t.Helper()
	var out []store.TraceSummary
	for sum, err := range r.FindTraces(context.Background(), q) {
		require.NoError(t, err)
		sum.Start = sum.Start.UTC()
		out = append(out, sum)
	}
	return out
}

func testTraceNames(t *testing.T, s TraceStore) {
	ctx := context.Background()
	services, err := s.Services(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"api", "db", "frontend"}, services)
	names, err := s.SpanNames(ctx, "frontend")
	require.NoError(t, err)
	require.Equal(t, []string{"GET /a", "GET /b"}, names)
	names, err = s.SpanNames(ctx, "nope")
	require.NoError(t, err)
	require.Empty(t, names)
}

func testTraceBadInput(t *testing.T, s TraceStore) {
	ctx := context.Background()
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("no ids")
	require.Error(t, s.WriteTraces(ctx, td), "span without trace id")
	require.NoError(t, s.WriteTraces(ctx, ptrace.NewTraces()), "empty batch")

	var gotErr error
	for _, err := range s.FindTraces(ctx, store.TraceQuery{Attrs: []store.AttrFilter{{Key: "k", Op: store.MatchRegexp, Value: "(("}}}) {
		gotErr = err
	}
	require.Error(t, gotErr, "bad regexp")
	_, err := s.GetTrace(ctx, pcommon.TraceID{})
	require.Error(t, err, "empty trace id")
}

func testTraceConcurrent(t *testing.T, open TraceOpener) {
	s, _ := openFresh(t, open)
	traces := makeTraces(80)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.WriteTraces(context.Background(), toPtrace(traces[w*10:(w+1)*10]))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, wantTraces(traces, store.TraceQuery{}), collectTraces(t, s, store.TraceQuery{Limit: 1000}))
}

func testTraceReopen(t *testing.T, open TraceOpener) {
	dir := t.TempDir()
	traces := makeTraces(30)
	s := open(t, dir)
	require.NoError(t, s.WriteTraces(context.Background(), toPtrace(traces)))
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer s.Close()
	td, err := s.GetTrace(context.Background(), traces[7].id)
	require.NoError(t, err)
	require.Equal(t, 3, td.SpanCount())
	require.Equal(t, wantTraces(traces, store.TraceQuery{}), collectTraces(t, s, store.TraceQuery{Limit: 1000}))
	services, err := s.Services(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"api", "db", "frontend"}, services)
}

func testTraceRetention(t *testing.T, open TraceOpener) {
	s, _ := openFresh(t, open)
	r, ok := s.(store.Retainer)
	if !ok {
		t.Skip("store does not implement store.Retainer")
	}
	ctx := context.Background()
	traces := makeTraces(60)
	require.NoError(t, s.WriteTraces(ctx, toPtrace(traces)))
	cutoff := base.Add(36 * time.Hour)
	require.NoError(t, r.DropBefore(ctx, store.SignalSpans, cutoff))
	for _, tr := range traces {
		start := tr.spans[0].start
		_, err := s.GetTrace(ctx, tr.id)
		switch {
		case start.Before(base.Add(24 * time.Hour)):
			require.ErrorIs(t, err, store.ErrNotFound, "trace at %s older than a day before the cutoff survived", start)
		case !start.Before(cutoff):
			require.NoError(t, err, "trace at %s after the cutoff was dropped", start)
		}
	}
	got := collectTraces(t, s, store.TraceQuery{Limit: 1000})
	for _, sum := range got {
		require.False(t, sum.Start.Before(base.Add(24*time.Hour)))
	}
	services, err := s.Services(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"api", "db", "frontend"}, services)
	// Dropping everything empties the name catalogs too.
	require.NoError(t, r.DropBefore(ctx, store.SignalSpans, base.Add(10*24*time.Hour)))
	services, err = s.Services(ctx)
	require.NoError(t, err)
	require.Empty(t, services)
}
