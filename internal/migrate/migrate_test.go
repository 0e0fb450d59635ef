package migrate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// The copy is tested between two embedded backends (the real DuckDB and TSDB stores on
// both sides): the package sees only the store interfaces, and the ClickHouse side is
// run end to end by e2e/migrate_test.go (tag chdb).

type side struct {
	events  *duck.Store
	metrics *tsdb.Store
	dash    dashboards.Store
}

func openSide(t *testing.T) side {
	t.Helper()
	return openSideOpts(t, duck.DefaultOptions())
}

func openSideOpts(t *testing.T, opts duck.Options) side {
	t.Helper()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	ev, err := duck.Open(filepath.Join(dir, "loupe.duckdb"), opts, logger, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { ev.Close() })
	// As the server opens it: samples older than the head are taken back to the retention.
	topts := tsdb.DefaultOptions()
	topts.OutOfOrderTimeWindow = topts.Retention
	m, err := tsdb.Open(filepath.Join(dir, "metrics"), topts, logger, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	d, err := ev.Dashboards(context.Background())
	require.NoError(t, err)
	return side{ev, m, d}
}

func (s side) source() Source {
	return Source{Logs: s.events, Spans: s.events, Metrics: s.metrics, Runs: s.events, Dashboards: s.dash, Errors: s.events, Profiles: s.events}
}

func (s side) destination() Destination {
	return Destination{Logs: s.events, Spans: s.events, Metrics: s.metrics, Runs: s.events, Dashboards: s.dash, Errors: s.events, Profiles: s.events}
}

// base is two days ago, so that the data spans three of the stores' day partitions.
var base = time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)

// writeLogs writes n records of three services, ten per millisecond-step so that many
// share a timestamp, spread over two days, with typed attributes.
func writeLogs(t *testing.T, w store.LogWriter, n int) {
	ld := plog.NewLogs()
	for svc := range 3 {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", svc))
		rl.Resource().Attributes().PutStr("deployment.environment", "test")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("scope")
		sl.Scope().SetVersion("1.2")
		for i := svc; i < n; i += 3 {
			lr := sl.LogRecords().AppendEmpty()
			ts := base.Add(time.Duration(i/10) * 2 * time.Minute * 10 / 10)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Second)))
			lr.SetSeverityNumber(plog.SeverityNumber(9 + i%12))
			lr.SetSeverityText([]string{"INFO", "WARN", "ERROR"}[i%3])
			lr.Body().SetStr(fmt.Sprintf("record %d", i))
			lr.Attributes().PutInt("i", int64(i))
			lr.Attributes().PutBool("even", i%2 == 0)
			lr.Attributes().PutDouble("ratio", float64(i)/7)
			if i%5 == 0 {
				lr.SetTraceID(pcommon.TraceID{1, byte(i), byte(i >> 8)})
				lr.SetSpanID(pcommon.SpanID{2, byte(i)})
			}
		}
	}
	require.NoError(t, w.WriteLogs(context.Background(), ld))
}

// writeTraces writes n traces of two spans, two services: 999 share one start, to test
// FindTraces' paging at its cap of 1,000, the others are spread before and after it.
func writeTraces(t *testing.T, w store.SpanWriter, n int) {
	td := ptrace.NewTraces()
	for svc := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", svc))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("tracer")
		for i := range n {
			start := base.Add(time.Duration(i-999)*2*time.Minute + time.Second)
			if i < 999 {
				start = base.Add(time.Hour)
			}
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{9, byte(i), byte(i >> 8)})
			sp.SetSpanID(pcommon.SpanID{byte(svc + 1), byte(i), byte(i >> 8)})
			sp.SetName(fmt.Sprintf("op-%d", svc))
			if svc == 1 {
				sp.SetParentSpanID(pcommon.SpanID{1, byte(i), byte(i >> 8)})
				start = start.Add(time.Millisecond)
			}
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(5 * time.Millisecond)))
			sp.Attributes().PutInt("n", int64(i))
			if i%7 == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
	}
	require.NoError(t, w.WriteTraces(context.Background(), td))
}

func writeSamples(t *testing.T, m *tsdb.Store, series, samples int) {
	app := m.Appender(context.Background())
	for s := range series {
		l := labels.FromStrings(labels.MetricName, "requests_total", "job", "api", "instance", fmt.Sprint(s))
		for i := range samples {
			_, err := app.Append(0, l, base.Add(time.Duration(i)*15*time.Second).UnixMilli(), float64(s*1000+i))
			require.NoError(t, err)
		}
	}
	require.NoError(t, app.Commit())
}

func writeRuns(t *testing.T, w runs.Writer, n int) {
	var rs []runs.Run
	for i := range n {
		start := base.Add(time.Duration(i) * time.Hour)
		id := fmt.Sprintf("%032x", i+1)
		rs = append(rs, runs.Run{Summary: runs.Summary{RunID: id, Name: "backup", Status: runs.StatusSucceeded,
			Start: start, End: start.Add(time.Minute), DurationSeconds: 60, Host: "h", Tags: map[string]string{"k": "v"}},
			Record: []byte(fmt.Sprintf(`{"run_id":%q,"name":"backup","status":"succeeded"}`, id))})
	}
	require.NoError(t, w.UpsertRuns(context.Background(), rs))
}

// writeDashboards stores two dashboards, the second saved three times.
func writeDashboards(t *testing.T, s dashboards.Store) {
	ctx := context.Background()
	_, err := s.Put(ctx, dashboards.Dashboard{UID: "one", Title: "One", Tags: []string{"a"}, Panels: []dashboards.Panel{}}, 0)
	require.NoError(t, err)
	var v int64
	for i := range 3 {
		v, err = s.Put(ctx, dashboards.Dashboard{UID: "two", Title: fmt.Sprintf("Two v%d", i+1), Panels: []dashboards.Panel{}}, v)
		require.NoError(t, err)
	}
}

func dashboardVersions(t *testing.T, s dashboards.Store, uid string) []dashboards.Dashboard {
	ctx := context.Background()
	vs, err := s.Versions(ctx, uid)
	require.NoError(t, err)
	var out []dashboards.Dashboard
	for _, v := range vs {
		rec, err := s.GetVersion(ctx, uid, v.Version)
		require.NoError(t, err)
		out = append(out, rec.Dashboard)
	}
	return out
}

// writeErrors stores n events of three issues (by exception type), resolves the first
// issue in release 1.0 and ignores the second for 5 more events.
func writeErrors(t *testing.T, s errtrack.Store, n int) []errtrack.Issue {
	ctx := context.Background()
	var evs []errtrack.Event
	for i := range n {
		ev := errtrack.Event{EventID: fmt.Sprintf("%032x", i+1), Source: errtrack.SourceSentry, Service: "svc",
			Timestamp: base.Add(time.Duration(i) * time.Minute), Received: base.Add(time.Duration(i) * time.Minute),
			Level: "error", Release: "1.0", Tags: map[string]string{"k": fmt.Sprint(i % 2)},
			User:       &errtrack.User{ID: fmt.Sprint(i % 4)},
			Exceptions: []errtrack.Exception{{Type: fmt.Sprintf("Err%d", i%3), Value: fmt.Sprintf("failed %d", i)}}}
		errtrack.Grouper{}.Group(&ev)
		evs = append(evs, ev)
	}
	require.NoError(t, s.WriteEvents(ctx, evs))
	p, err := s.ListIssues(ctx, errtrack.IssueQuery{Sort: "first_seen"})
	require.NoError(t, err)
	require.Len(t, p.Issues, 3)
	_, err = s.SetStatus(ctx, p.Issues[0].ID, errtrack.StatusChange{Status: errtrack.StatusResolved, ResolvedInRelease: "1.0"})
	require.NoError(t, err)
	_, err = s.SetStatus(ctx, p.Issues[1].ID, errtrack.StatusChange{Status: errtrack.StatusIgnored, IgnoreCount: 5})
	require.NoError(t, err)
	p, err = s.ListIssues(ctx, errtrack.IssueQuery{Sort: "first_seen"})
	require.NoError(t, err)
	return p.Issues
}

func allEvents(t *testing.T, s errtrack.Reader, issue string) []errtrack.Event {
	var out []errtrack.Event
	cursor := ""
	for {
		p, err := s.IssueEvents(context.Background(), issue, errtrack.EventQuery{Limit: 1000, Cursor: cursor})
		require.NoError(t, err)
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
}

func allLogs(t *testing.T, r store.LogReader) []store.LogRecord {
	var out []store.LogRecord
	cursor := ""
	for {
		n := 0
		for rec, err := range r.QueryLogs(context.Background(), store.LogQuery{Limit: 10_000, Cursor: cursor}) {
			require.NoError(t, err)
			cursor = rec.Cursor
			rec.Cursor = ""
			out = append(out, rec)
			n++
		}
		if n < 10_000 {
			return out
		}
	}
}

// traceSpans maps every trace id to its spans' ids, names and services, via GetTrace.
func traceSpans(t *testing.T, r store.TraceReader, ids []pcommon.TraceID) map[pcommon.TraceID][]string {
	out := map[pcommon.TraceID][]string{}
	for _, id := range ids {
		td, err := r.GetTrace(context.Background(), id)
		require.NoError(t, err, id)
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					n, _ := sp.Attributes().Get("n")
					out[id] = append(out[id], fmt.Sprintf("%s %s %s %s %d %s %s", svc.Str(), sp.SpanID(), sp.ParentSpanID(), sp.Name(), sp.StartTimestamp(), sp.Status().Code(), n.AsString()))
				}
			}
		}
		slices.Sort(out[id])
	}
	return out
}

func allSamples(t *testing.T, m storage.Queryable) map[string][]float64 {
	q, err := m.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	out := map[string][]float64{}
	ss := q.Select(context.Background(), false, nil, allSeries)
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			_, v := it.At()
			out[ss.At().Labels().String()] = append(out[ss.At().Labels().String()], v)
		}
	}
	require.NoError(t, ss.Err())
	return out
}

func TestRunCopiesEverySignal(t *testing.T) {
	ctx := context.Background()
	src, dst := openSide(t), openSide(t)
	const nLogs, nTraces = 2345, 1300
	writeLogs(t, src.events, nLogs)
	writeTraces(t, src.events, nTraces)
	writeSamples(t, src.metrics, 7, 300)
	writeRuns(t, src.events, 5)
	writeDashboards(t, src.dash)
	issues := writeErrors(t, src.events, 1100)

	var progress bytes.Buffer
	counts, err := Run(ctx, src.source(), dst.destination(), Options{Progress: &progress, LogPage: 500, TracePage: 64, SamplePage: 1000, RunPage: 2})
	require.NoError(t, err, progress.String())
	got := map[store.Signal]Counts{}
	for _, c := range counts {
		got[c.Signal] = c
	}
	require.EqualValues(t, nLogs, got[store.SignalLogs].Copied)
	require.EqualValues(t, 2*nTraces, got[store.SignalSpans].Copied)
	require.EqualValues(t, nTraces, got[store.SignalSpans].Traces)
	require.EqualValues(t, 7*300, got[store.SignalMetrics].Copied)
	require.EqualValues(t, 7, got[store.SignalMetrics].Series)
	require.EqualValues(t, 5, got[store.SignalRuns].Copied)
	require.EqualValues(t, 2, got[SignalDashboards].Copied)
	require.EqualValues(t, 1100, got[store.SignalErrors].Copied)
	require.EqualValues(t, 3, got[store.SignalErrors].Series)
	out := progress.String()
	require.Contains(t, out, "logs: page 5 (records 2001-2345, ")
	require.Contains(t, out, "logs: 2345 copied in ")
	require.Contains(t, out, "spans: 2600 copied (1300 traces) in ")
	require.Contains(t, out, "metrics: 2100 samples copied (7 series) in ")
	require.Contains(t, out, "runs: page 3 (runs 5-5, ")
	require.Contains(t, out, `dashboards: dashboard "two" ("Two v3") copied (3 versions)`)
	require.Contains(t, out, "errors: 1100 events copied (3 issues) in ")

	// Logs: every field the reader returns. (Records of one timestamp may come in
	// another order: the tie-breaker is the store's row order.)
	want, have := allLogs(t, src.events), allLogs(t, dst.events)
	require.Len(t, have, nLogs)
	byBody := func(a, b store.LogRecord) int { return strings.Compare(a.Body, b.Body) }
	slices.SortFunc(want, byBody)
	slices.SortFunc(have, byBody)
	for i := range want {
		require.Equal(t, want[i], have[i])
	}

	// Spans: every trace, span by span.
	var ids []pcommon.TraceID
	for i := range nTraces {
		ids = append(ids, pcommon.TraceID{9, byte(i), byte(i >> 8)})
	}
	require.Equal(t, traceSpans(t, src.events, ids), traceSpans(t, dst.events, ids))

	require.Equal(t, allSamples(t, src.metrics), allSamples(t, dst.metrics))

	wantRuns, err := src.events.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	haveRuns, err := dst.events.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	require.Equal(t, wantRuns, haveRuns)
	rec, err := dst.events.GetRun(ctx, fmt.Sprintf("%032x", 3))
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"run_id":"%032x","name":"backup","status":"succeeded"}`, 3), string(rec))

	// Dashboards: every kept version, in order.
	for _, uid := range []string{"one", "two"} {
		require.Equal(t, dashboardVersions(t, src.dash, uid), dashboardVersions(t, dst.dash, uid))
	}
	require.Len(t, dashboardVersions(t, dst.dash, "two"), 3)

	// Errors: the same issues, counters and statuses, the same events.
	p, err := dst.events.ListIssues(ctx, errtrack.IssueQuery{Sort: "first_seen"})
	require.NoError(t, err)
	require.Equal(t, issues, p.Issues)
	require.Equal(t, errtrack.StatusResolved, p.Issues[0].Status)
	require.Equal(t, errtrack.StatusIgnored, p.Issues[1].Status)
	for _, is := range issues {
		require.Equal(t, allEvents(t, src.events, is.ID), allEvents(t, dst.events, is.ID))
	}

	// Again: refused before anything is copied, naming the first signal found.
	counts, err = Run(ctx, src.source(), dst.destination(), Options{})
	var merr *Error
	require.ErrorAs(t, err, &merr)
	require.Equal(t, store.SignalLogs, merr.Signal)
	require.ErrorContains(t, err, "migrate logs: checking the destination: the destination already holds logs: nothing copied (--force")
	require.Empty(t, counts)
	require.Len(t, allLogs(t, dst.events), nLogs)

	// Only metrics in the destination: refused too, naming metrics.
	empty := openSide(t)
	writeSamples(t, empty.metrics, 1, 1)
	_, err = Run(ctx, src.source(), empty.destination(), Options{})
	require.ErrorContains(t, err, "migrate metrics: checking the destination: the destination already holds metrics")
}

func TestRunForceAndFailures(t *testing.T) {
	ctx := context.Background()
	src, dst := openSide(t), openSide(t)
	writeLogs(t, src.events, 30)
	writeSamples(t, src.metrics, 2, 10)
	writeLogs(t, dst.events, 30)
	writeSamples(t, dst.metrics, 2, 10)

	// --force: logs are stored twice, samples once (one per series and time).
	counts, err := Run(ctx, Source{Logs: src.events, Metrics: src.metrics}, Destination{Logs: dst.events, Metrics: dst.metrics}, Options{Force: true})
	require.NoError(t, err)
	require.Len(t, counts, 2)
	require.Len(t, allLogs(t, dst.events), 60)
	require.Equal(t, allSamples(t, src.metrics), allSamples(t, dst.metrics))

	// --force: a dashboard already there (same uid) is left as it is.
	writeDashboards(t, src.dash)
	_, err = dst.dash.Put(ctx, dashboards.Dashboard{UID: "two", Title: "Mine", Panels: []dashboards.Panel{}}, 0)
	require.NoError(t, err)
	counts, err = Run(ctx, Source{Dashboards: src.dash}, Destination{Dashboards: dst.dash}, Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, []int64{1, 1}, []int64{counts[0].Copied, counts[0].Skipped})
	require.Contains(t, counts[0].String(), "dashboards: 1 copied, 1 not copied: in the destination already (same uid), left as they are in ")
	mine, err := dst.dash.Get(ctx, "two")
	require.NoError(t, err)
	require.Equal(t, "Mine", mine.Dashboard.Title)

	// A destination that fails (its disk guard refuses every write): the error names the
	// signal and the page.
	opts := duck.DefaultOptions()
	opts.MinFreeBytes = 1 << 60 // more than any disk
	broken := openSideOpts(t, opts)
	_, err = Run(ctx, Source{Logs: src.events}, Destination{Logs: broken.events}, Options{Force: true, LogPage: 10})
	var merr *Error
	require.ErrorAs(t, err, &merr)
	require.Equal(t, store.SignalLogs, merr.Signal)
	require.True(t, strings.HasPrefix(merr.Position, "writing page 1 (records 1-10, "), merr.Position)
	require.ErrorIs(t, err, store.ErrDiskFull)

	// A read that fails (the context is cancelled).
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Run(cancelled, Source{Logs: src.events}, Destination{Logs: dst.events}, Options{Force: true})
	require.ErrorAs(t, err, &merr)
	require.Equal(t, store.SignalLogs, merr.Signal)
	require.ErrorContains(t, err, "migrate logs: reading page 1 (after 0 records): ")
	require.ErrorIs(t, err, context.Canceled)
}
