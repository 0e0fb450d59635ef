package storetest

import (
	"context"
	"encoding/binary"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
)

const numLogs = 600

// RunLogs runs the log cases of the suite.
func RunLogs(t *testing.T, open LogOpener) {
	logs := makeLogs(numLogs)
	s, _ := openFresh(t, open)
	ctx := context.Background()
	// Two batches, the second spanning two days, to exercise multi-partition batches.
	require.NoError(t, s.WriteLogs(ctx, toPlog(logs[:numLogs/2])))
	require.NoError(t, s.WriteLogs(ctx, toPlog(logs[numLogs/2:])))

	t.Run("filters", func(t *testing.T) { testLogFilters(t, s, logs) })
	t.Run("paging", func(t *testing.T) { testLogPaging(t, s, logs) })
	t.Run("limits", func(t *testing.T) { testLogLimits(t, s) })
	t.Run("counts", func(t *testing.T) { testLogCounts(t, s, logs) })
	t.Run("record fields", func(t *testing.T) { testLogFields(t, open) })
	t.Run("equal timestamps", func(t *testing.T) { testLogTies(t, open) })
	t.Run("bad input", func(t *testing.T) { testLogBadInput(t, s) })
	t.Run("concurrent writes", func(t *testing.T) { testLogConcurrent(t, open) })
	t.Run("reopen", func(t *testing.T) { testLogReopen(t, open) })
	t.Run("retention", func(t *testing.T) { testLogRetention(t, open) })
}

// queryIDs runs q to the end and returns the "i" attribute of each record.
func queryIDs(t *testing.T, r store.LogReader, q store.LogQuery) ([]int64, []store.LogRecord) {
	t.Helper()
	var ids []int64
	var recs []store.LogRecord
	for rec, err := range r.QueryLogs(context.Background(), q) {
		require.NoError(t, err)
		id, ok := rec.Attributes["i"].(int64)
		require.True(t, ok, "attribute i of %+v", rec.Attributes)
		ids = append(ids, id)
		recs = append(recs, rec)
	}
	return ids, recs
}

func testLogFilters(t *testing.T, s LogStore, logs []testLog) {
	tid, sid := logs[99].traceID, logs[99].spanID
	require.False(t, tid.IsEmpty())
	cases := []struct {
		name string
		f    store.LogFilter
	}{
		{"all", store.LogFilter{}},
		{"start", store.LogFilter{Start: base.Add(50 * time.Hour)}},
		{"end", store.LogFilter{End: base.Add(20 * time.Hour)}},
		{"range within a day", store.LogFilter{Start: base.Add(25 * time.Hour), End: base.Add(30 * time.Hour)}},
		{"range across days", store.LogFilter{Start: base.Add(20 * time.Hour), End: base.Add(50 * time.Hour)}},
		{"empty range", store.LogFilter{Start: base.Add(-48 * time.Hour), End: base.Add(-24 * time.Hour)}},
		{"end is exclusive", store.LogFilter{End: logs[10].ts}},
		{"start is inclusive", store.LogFilter{Start: logs[590].ts}},
		{"one service", store.LogFilter{Services: []string{"api"}}},
		{"two services", store.LogFilter{Services: []string{"api", "web"}}},
		{"unknown service", store.LogFilter{Services: []string{"nope"}}},
		{"min severity warn", store.LogFilter{MinSeverity: int32(plog.SeverityNumberWarn)}},
		{"min severity info", store.LogFilter{MinSeverity: int32(plog.SeverityNumberInfo)}},
		{"contains any case", store.LogFilter{Contains: "needle"}},
		{"contains upper", store.LogFilter{Contains: "NEEDLE IN"}},
		{"contains nothing", store.LogFilter{Contains: "haystack"}},
		{"contains percent is literal", store.LogFilter{Contains: "%"}},
		{"attr equal", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchEqual, Value: "POST"}}}},
		{"attr int", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.status_code", Op: store.MatchEqual, Value: "500"}}}},
		{"attr bool", store.LogFilter{Attrs: []store.AttrFilter{{Key: "retry", Op: store.MatchEqual, Value: "true"}}}},
		{"attr not equal", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchNotEqual, Value: "GET"}}}},
		{"attr regexp", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchRegexp, Value: "P.*"}}}},
		{"attr regexp is anchored", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchRegexp, Value: "OS"}}}},
		{"attr not regexp", store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.status_code", Op: store.MatchNotRegexp, Value: "2.."}}}},
		{"resource attr", store.LogFilter{Attrs: []store.AttrFilter{{Key: "host.name", Op: store.MatchEqual, Value: "h2"}}}},
		{"service.name attr", store.LogFilter{Attrs: []store.AttrFilter{{Key: "service.name", Op: store.MatchEqual, Value: "db"}}}},
		{"missing attr equals empty", store.LogFilter{Attrs: []store.AttrFilter{{Key: "no.such.key", Op: store.MatchEqual, Value: ""}}}},
		{"missing attr", store.LogFilter{Attrs: []store.AttrFilter{{Key: "no.such.key", Op: store.MatchEqual, Value: "x"}}}},
		{"two attrs", store.LogFilter{Attrs: []store.AttrFilter{
			{Key: "http.method", Op: store.MatchEqual, Value: "GET"},
			{Key: "host.name", Op: store.MatchNotEqual, Value: "h0"},
		}}},
		{"trace id", store.LogFilter{TraceID: tid}},
		{"span id", store.LogFilter{SpanID: sid}},
		{"combined", store.LogFilter{
			Start: base.Add(10 * time.Hour), End: base.Add(60 * time.Hour),
			Services: []string{"api", "db"}, MinSeverity: int32(plog.SeverityNumberInfo),
			Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchRegexp, Value: "GET|PUT"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := wantLogIDs(logs, c.f)
			got, _ := queryIDs(t, s, store.LogQuery{LogFilter: c.f, Limit: 10_000})
			require.Equal(t, want, got)
		})
	}
}

func testLogPaging(t *testing.T, s LogStore, logs []testLog) {
	for _, f := range []store.LogFilter{{}, {Services: []string{"db"}}, {Start: base.Add(20 * time.Hour), End: base.Add(50 * time.Hour)}} {
		want := wantLogIDs(logs, f)
		var got []int64
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, len(want)+2, "paging does not end")
			ids, recs := queryIDs(t, s, store.LogQuery{LogFilter: f, Limit: 7, Cursor: cursor})
			require.LessOrEqual(t, len(ids), 7)
			if len(ids) == 0 {
				break
			}
			got = append(got, ids...)
			cursor = recs[len(recs)-1].Cursor
			require.NotEmpty(t, cursor)
		}
		require.Equal(t, want, got, "pages joined must equal one query, without gaps or duplicates")
	}
}

func testLogLimits(t *testing.T, s LogStore) {
	ids, _ := queryIDs(t, s, store.LogQuery{})
	require.Len(t, ids, 100, "default limit")
	ids, _ = queryIDs(t, s, store.LogQuery{Limit: 5})
	require.Equal(t, []int64{599, 598, 597, 596, 595}, ids)

	// A consumer may stop early.
	n := 0
	for _, err := range s.QueryLogs(context.Background(), store.LogQuery{Limit: 50}) {
		require.NoError(t, err)
		n++
		if n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)
}

func testLogCounts(t *testing.T, s LogStore, logs []testLog) {
	cases := []struct {
		name string
		q    store.LogCountQuery
	}{
		{"hourly over a range", store.LogCountQuery{LogFilter: store.LogFilter{Start: base.Add(5 * time.Hour), End: base.Add(53 * time.Hour)}, Step: time.Hour}},
		{"daily, all", store.LogCountQuery{LogFilter: store.LogFilter{Start: base, End: base.Add(72 * time.Hour)}, Step: 24 * time.Hour}},
		{"odd step with filter", store.LogCountQuery{LogFilter: store.LogFilter{
			Start: base.Add(90 * time.Minute), End: base.Add(40 * time.Hour), Services: []string{"web"},
		}, Step: 7 * time.Hour}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			type key struct {
				bucket time.Time
				sev    string
			}
			want := map[key]int64{}
			for _, l := range logs {
				if !matchLog(l, c.q.LogFilter) {
					continue
				}
				b := c.q.Start.Add(l.ts.Sub(c.q.Start) / c.q.Step * c.q.Step)
				want[key{b, normSeverity(l)}]++
			}
			got, err := s.CountLogs(context.Background(), c.q)
			require.NoError(t, err)
			gotMap := map[key]int64{}
			for _, g := range got {
				require.Positive(t, g.Count, "empty buckets are omitted")
				gotMap[key{g.Bucket.UTC(), g.Severity}] += g.Count
			}
			require.Equal(t, want, gotMap)
		})
	}
}

// testLogFields checks that every field of a record comes back as written.
func testLogFields(t *testing.T, open LogOpener) {
	s, _ := openFresh(t, open)
	ctx := context.Background()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutInt("process.pid", 42)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("my.lib")
	sl.Scope().SetVersion("2.3.4")
	lr := sl.LogRecords().AppendEmpty()
	ts := base.Add(3*time.Hour + 123456789)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Second)))
	lr.SetSeverityNumber(plog.SeverityNumberError2)
	lr.SetSeverityText("Error")
	body := lr.Body().SetEmptyMap()
	body.PutStr("msg", "structured")
	body.PutInt("n", 7)
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	binary.BigEndian.PutUint64(tid[:8], 0xffffffffffffffff) // top bit set: ids are unsigned
	binary.BigEndian.PutUint64(tid[8:], 0x8000000000000001)
	binary.BigEndian.PutUint64(sid[:], 0x8123456789abcdef)
	lr.SetTraceID(tid)
	lr.SetSpanID(sid)
	lr.SetFlags(1)
	lr.Attributes().PutStr("s", "x\"y\\z\n☃")
	lr.Attributes().PutInt("i", 1)
	lr.Attributes().PutDouble("d", 2.5)
	lr.Attributes().PutBool("b", true)
	lr.Attributes().PutEmptySlice("arr").AppendEmpty().SetStr("a")
	lr.Attributes().PutEmptyMap("m").PutStr("k", "v")
	// A record without any timestamp takes the time of ingest.
	bare := sl.LogRecords().AppendEmpty()
	bare.Body().SetStr("no timestamp")
	bare.Attributes().PutInt("i", 2)
	before := time.Now()
	require.NoError(t, s.WriteLogs(ctx, ld))

	_, recs := queryIDs(t, s, store.LogQuery{LogFilter: store.LogFilter{TraceID: tid}})
	require.Len(t, recs, 1)
	r := recs[0]
	require.True(t, ts.Equal(r.Timestamp), "timestamp %s", r.Timestamp)
	require.True(t, ts.Add(time.Second).Equal(r.ObservedTimestamp))
	require.Equal(t, "checkout", r.Service)
	require.Equal(t, int32(plog.SeverityNumberError2), r.SeverityNumber)
	require.Equal(t, "Error", r.SeverityText)
	require.JSONEq(t, `{"msg":"structured","n":7}`, r.Body)
	require.Equal(t, tid, r.TraceID)
	require.Equal(t, sid, r.SpanID)
	require.Equal(t, uint32(1), r.Flags)
	require.Equal(t, map[string]any{
		"s": "x\"y\\z\n☃", "i": int64(1), "d": 2.5, "b": true,
		"arr": []any{"a"}, "m": map[string]any{"k": "v"},
	}, r.Attributes)
	require.Equal(t, map[string]any{"service.name": "checkout", "process.pid": int64(42)}, r.Resource)
	require.Equal(t, "my.lib", r.ScopeName)
	require.Equal(t, "2.3.4", r.ScopeVersion)

	_, recs = queryIDs(t, s, store.LogQuery{LogFilter: store.LogFilter{Contains: "no timestamp"}})
	require.Len(t, recs, 1)
	require.False(t, recs[0].Timestamp.Before(before.Add(-time.Second)), "ingest time used for a record without timestamps")
	require.True(t, recs[0].TraceID.IsEmpty())
}

// testLogTies pages through records sharing one timestamp.
func testLogTies(t *testing.T, open LogOpener) {
	s, _ := openFresh(t, open)
	var logs []testLog
	for i := range 25 {
		logs = append(logs, testLog{id: int64(i), ts: base.Add(time.Hour), service: "api", host: "h",
			body: "same", attrs: map[string]string{"http.status_code": "200"}})
	}
	require.NoError(t, s.WriteLogs(context.Background(), toPlog(logs[:10])))
	require.NoError(t, s.WriteLogs(context.Background(), toPlog(logs[10:])))
	seen := map[int64]bool{}
	cursor := ""
	for {
		ids, recs := queryIDs(t, s, store.LogQuery{Limit: 4, Cursor: cursor})
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			require.False(t, seen[id], "record %d returned twice", id)
			seen[id] = true
		}
		cursor = recs[len(recs)-1].Cursor
	}
	require.Len(t, seen, 25)
}

func testLogBadInput(t *testing.T, s LogStore) {
	ctx := context.Background()
	for name, q := range map[string]store.LogQuery{
		"bad cursor": {Cursor: "not-a-cursor"},
		"bad regexp": {LogFilter: store.LogFilter{Attrs: []store.AttrFilter{{Key: "k", Op: store.MatchRegexp, Value: "("}}}},
		"empty key":  {LogFilter: store.LogFilter{Attrs: []store.AttrFilter{{Key: "", Op: store.MatchEqual, Value: "x"}}}},
	} {
		var gotErr error
		for _, err := range s.QueryLogs(ctx, q) {
			if err != nil {
				gotErr = err
				break
			}
		}
		require.Error(t, gotErr, name)
	}
	_, err := s.CountLogs(ctx, store.LogCountQuery{})
	require.Error(t, err, "zero step")
	require.NoError(t, s.WriteLogs(ctx, plog.NewLogs()), "empty batch")
}

func testLogConcurrent(t *testing.T, open LogOpener) {
	s, _ := openFresh(t, open)
	logs := makeLogs(400)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.WriteLogs(context.Background(), toPlog(logs[w*50:(w+1)*50]))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, _ := queryIDs(t, s, store.LogQuery{Limit: 10_000})
	require.Equal(t, wantLogIDs(logs, store.LogFilter{}), got)
}

func testLogReopen(t *testing.T, open LogOpener) {
	dir := t.TempDir()
	logs := makeLogs(90)
	s := open(t, dir)
	require.NoError(t, s.WriteLogs(context.Background(), toPlog(logs)))
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer s.Close()
	got, _ := queryIDs(t, s, store.LogQuery{Limit: 1000})
	require.Equal(t, wantLogIDs(logs, store.LogFilter{}), got)
}

func testLogRetention(t *testing.T, open LogOpener) {
	s, _ := openFresh(t, open)
	r, ok := s.(store.Retainer)
	if !ok {
		t.Skip("store does not implement store.Retainer")
	}
	logs := makeLogs(300)
	require.NoError(t, s.WriteLogs(context.Background(), toPlog(logs)))
	// Cut in the middle of day 2: day 1 must go, day 3 must stay; day 2 may stay
	// (backends drop whole partitions).
	cutoff := base.Add(36 * time.Hour)
	require.NoError(t, r.DropBefore(context.Background(), store.SignalLogs, cutoff))
	got, _ := queryIDs(t, s, store.LogQuery{Limit: 1000})
	gotSet := map[int64]bool{}
	for _, id := range got {
		gotSet[id] = true
	}
	for _, l := range logs {
		switch {
		case l.ts.Before(base.Add(24 * time.Hour)):
			require.False(t, gotSet[l.id], "record %d at %s older than a day before the cutoff survived", l.id, l.ts)
		case !l.ts.Before(cutoff):
			require.True(t, gotSet[l.id], "record %d at %s after the cutoff was dropped", l.id, l.ts)
		}
	}
	// Writing again into a dropped day works (late data).
	require.NoError(t, s.WriteLogs(context.Background(), toPlog(logs[:3])))
	got, _ = queryIDs(t, s, store.LogQuery{Limit: 1000, LogFilter: store.LogFilter{End: base.Add(time.Hour)}})
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	require.Equal(t, []int64{0, 1, 2}, got)
}
