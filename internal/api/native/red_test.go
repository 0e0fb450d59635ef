package native

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// The DuckDB store implements the capability with the alias types of this package.
var _ store.ServiceStatsReader = (*duck.Store)(nil)

type redSpan struct {
	service, name string
	kind          ptrace.SpanKind
	root          bool
	start         time.Time
	dur           time.Duration
	err           bool
}

// makeREDSpans generates 120 requests over the hour before testNow: "api" server spans
// with a "db" client child each, and a "checkout" server span every third request.
func makeREDSpans() []redSpan {
	var out []redSpan
	for i := range 120 {
		start := testNow.Add(-time.Hour + time.Duration(i)*30*time.Second + time.Second)
		d := time.Duration(10+i%10) * time.Millisecond
		out = append(out,
			redSpan{service: "api", name: []string{"GET /users", "POST /orders"}[i%2], kind: ptrace.SpanKindServer, root: true, start: start, dur: d, err: i%10 == 0},
			redSpan{service: "db", name: "SELECT", kind: ptrace.SpanKindClient, start: start.Add(time.Millisecond), dur: d / 2, err: i%20 == 0},
		)
		if i%3 == 0 {
			out = append(out, redSpan{service: "checkout", name: "charge", kind: ptrace.SpanKindServer, start: start.Add(2 * time.Millisecond), dur: 100 * time.Millisecond})
		}
	}
	// Outside the range: must not count.
	out = append(out, redSpan{service: "api", name: "GET /users", kind: ptrace.SpanKindServer, root: true, start: testNow.Add(-2 * time.Hour), dur: time.Second})
	return out
}

func redTraces(spans []redSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	for i, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID([16]byte{1, byte(i >> 8), byte(i), 9}))
		sp.SetSpanID(pcommon.SpanID([8]byte{2, byte(i >> 8), byte(i), 1}))
		if !s.root {
			sp.SetParentSpanID(pcommon.SpanID([8]byte{3, byte(i >> 8), byte(i), 1}))
		}
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.start.Add(s.dur)))
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

// quantile is DuckDB's quantile_cont: linear interpolation between closest ranks.
func quantile(ds []time.Duration, q float64) int64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return int64(float64(s[lo]) + (pos-float64(lo))*float64(s[hi]-s[lo]))
}

type redWant struct {
	count, errors int64
	durs          []time.Duration
}

func newREDAPI(t *testing.T, spans []redSpan) *API {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "x.duckdb"), duck.DefaultOptions(),
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteTraces(context.Background(), redTraces(spans)))
	a := New(st, st, slog.New(slog.DiscardHandler))
	a.now = func() time.Time { return testNow }
	return a
}

func checkRED(t *testing.T, a *API, query string, keep func(redSpan) bool, key func(redSpan) string) redData {
	t.Helper()
	spans := makeREDSpans()
	want := map[string]*redWant{}
	var all redWant
	for _, s := range spans {
		if s.start.Before(testNow.Add(-time.Hour)) || !keep(s) {
			continue
		}
		w := want[key(s)]
		if w == nil {
			w = &redWant{}
			want[key(s)] = w
		}
		for _, x := range []*redWant{w, &all} {
			x.count++
			x.durs = append(x.durs, s.dur)
			if s.err {
				x.errors++
			}
		}
	}
	resp := get(t, a, "/api/loupe/v1/services/red?"+query, http.StatusOK)
	var data redData
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Len(t, data.Groups, len(want))
	check := func(name string, w *redWant, g redGroupJSON) {
		require.Equal(t, w.count, g.Count, name)
		require.Equal(t, w.errors, g.Errors, name)
		require.InDelta(t, float64(w.count)/3600, g.Rate, 1e-9, name)
		require.InDelta(t, float64(w.errors)/float64(w.count), g.ErrorRate, 1e-9, name)
		require.InDelta(t, quantile(w.durs, 0.5), g.P50, 1, name)
		require.InDelta(t, quantile(w.durs, 0.95), g.P95, 1, name)
		require.InDelta(t, quantile(w.durs, 0.99), g.P99, 1, name)
		var sum, errs int64
		for _, p := range g.Series {
			sum += p.Count
			errs += p.Errors
		}
		require.Equal(t, w.count, sum, "%s: series add up to the total", name)
		require.Equal(t, w.errors, errs, name)
	}
	for _, g := range data.Groups {
		require.Contains(t, want, g.Name)
		check(g.Name, want[g.Name], g)
	}
	check("total", &all, data.Total)
	for i := 1; i < len(data.Groups); i++ {
		require.GreaterOrEqual(t, data.Groups[i-1].Count, data.Groups[i].Count, "busiest first")
	}
	return data
}

func TestDuckServiceRED(t *testing.T) {
	a := newREDAPI(t, makeREDSpans())
	// db has only client spans: it is counted by all of them.
	data := checkRED(t, a, "start=now-1h&step=5m",
		func(s redSpan) bool { return s.kind == ptrace.SpanKindServer || s.root || s.service == "db" },
		func(s redSpan) string { return s.service })
	require.Equal(t, 300.0, data.StepSeconds)
	require.Len(t, data.Total.Series, 12)
	require.Equal(t, "2026-11-22T11:00:00Z", data.Total.Series[0].Time)
	require.Equal(t, int64(10), data.Groups[0].Series[0].Count, "api: one request per 30s")
}

func TestDuckServiceREDBySpanName(t *testing.T) {
	a := newREDAPI(t, makeREDSpans())
	data := checkRED(t, a, "service=api&step=1m",
		func(s redSpan) bool { return s.service == "api" },
		func(s redSpan) string { return s.name })
	require.Equal(t, "api", data.Service)
	require.Len(t, data.Total.Series, 60)
}

func TestServiceREDErrors(t *testing.T) {
	a := newREDAPI(t, nil)
	for _, q := range []string{"step=0", "step=abc", "step=1s", "start=now&end=now-1h", "servce=x", "service=a&service=b"} {
		get(t, a, "/api/loupe/v1/services/red?"+q, http.StatusBadRequest)
	}
	resp := get(t, a, "/api/loupe/v1/services/red", http.StatusOK)
	var data redData
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Empty(t, data.Groups)
	require.Equal(t, 30.0, data.StepSeconds, "default step over the default hour")

	// A store without the capability answers 503.
	b := New(nil, &fakeStore{}, nil)
	get(t, b, "/api/loupe/v1/services/red", http.StatusServiceUnavailable)
}
