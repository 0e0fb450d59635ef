//go:build chdb

package chlogs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// Tests of migration 2's indexes, column and projections (schema.go): ClickHouse uses
// them for the queries written for them, and the answers are those without them.

// tokenBodies are bodies around the token search's edges: ids that share a prefix,
// tokens inside longer tokens, case, non-ASCII neighbours.
var tokenBodies = []string{
	"user u-054321 logged in", "user u-0543210 logged in", "user u-054329 logged in", "xu-054321y",
	"payment for U-054321: declined", "(request_id=AB12cd) done", "request_id=ab12cdef", "é-054321é",
	"u-05432", "id 054321", "a.b.c", "", "snake_case_word",
}

func tokenLogs(start time.Time) plog.Logs {
	ld := plog.NewLogs()
	for i, body := range tokenBodies {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc%d", i%3))
		rl.Resource().Attributes().PutInt("host.n", int64(i%4))
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		// Sub-second times, two records in some seconds: the counts' whole-second form
		// must bucket them as the nanosecond form does.
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i)*700*time.Millisecond + time.Duration(i)*time.Nanosecond)))
		lr.SetSeverityNumber(plog.SeverityNumber(1 + 4*(i%6)))
		lr.Body().SetStr(body)
		lr.Attributes().PutStr("k", fmt.Sprintf("v%d", i%2))
	}
	return ld
}

// TestTokenSearchMatchesGo checks native searches (case-insensitive substrings, with the
// token index's conditions) against strings.Contains, for every substring of the bodies.
func TestTokenSearchMatchesGo(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, tokenLogs(t0)))
	needles := map[string]bool{}
	for _, b := range tokenBodies {
		for i := range b {
			for j := i + 1; j <= len(b) && j-i <= 12; j++ {
				if len(needleTokens(strings.ToLower(b[i:j]))) > 0 {
					needles[b[i:j]] = true
				}
			}
		}
	}
	needles["U-054321"], needles["-054321 "] = true, true
	require.Greater(t, len(needles), 100)
	for needle := range needles {
		var want []string
		for _, b := range tokenBodies {
			if strings.Contains(strings.ToLower(b), strings.ToLower(needle)) {
				want = append(want, b)
			}
		}
		var got []string
		for rec, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: store.LogFilter{Contains: needle}, Limit: 100}) {
			require.NoError(t, err)
			got = append(got, rec.Body)
		}
		require.ElementsMatch(t, want, got, "needle %q", needle)

		// LogQL's |= (case-sensitive).
		want = want[:0]
		for _, b := range tokenBodies {
			if strings.Contains(b, needle) {
				want = append(want, b)
			}
		}
		got = got[:0]
		sel := plan.Select{LineFilters: []plan.LineFilter{{Op: plan.LineContains, Values: []string{needle}}}}
		for row, err := range s.LogQL().Rows(ctx, sel) {
			require.NoError(t, err)
			got = append(got, row.Body)
		}
		require.ElementsMatch(t, want, got, "|= %q", needle)
	}
}

// TestQueryIndexesUsed checks with EXPLAIN that the body token index skips the granules
// without the token (two parts, merges stopped, the token in one), and that the attribute
// keys and the whole-second counts read the projections.
func TestQueryIndexesUsed(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	require.NoError(t, conn.Exec(ctx, "SYSTEM STOP MERGES logs"))
	require.NoError(t, s.WriteLogs(ctx, oneLog(t0, "user u-054321 logged in", pcommon.TraceID{})))
	require.NoError(t, s.WriteLogs(ctx, oneLog(t0, "user u-111111 logged in", pcommon.TraceID{})))

	conds, err := filterConds(store.LogFilter{Contains: "u-054321"})
	require.NoError(t, err)
	plan1 := queryText(t, conn, "EXPLAIN indexes = 1 SELECT count() FROM logs WHERE "+strings.Join(conds, " AND "))
	_, after, ok := strings.Cut(plan1, "Name: idx_body_tokens")
	require.True(t, ok, plan1)
	_, after, ok = strings.Cut(after, "Granules: ")
	require.True(t, ok, plan1)
	require.True(t, strings.HasPrefix(after, "1/2"), plan1)

	l := s.LogQL().(logqlStore)
	sel := plan.Select{Start: t0.Add(-time.Hour).UnixNano(), End: t0.Add(time.Hour).UnixNano()}
	require.Contains(t, queryText(t, conn, "EXPLAIN "+l.attrKeysQuery(sel, nil)), "ReadFromMergeTree (p_attr_keys)")
	keys, err := l.attrKeys(ctx, sel, nil)
	require.NoError(t, err)
	require.Contains(t, keys, "http_method")

	q, err := s.countQuery(store.LogCountQuery{LogFilter: store.LogFilter{Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}, Step: time.Minute})
	require.NoError(t, err)
	require.Contains(t, queryText(t, conn, "EXPLAIN "+q), "ReadFromMergeTree (p_counts)")
}

// TestCountsWholeSeconds checks the whole-second form of the counts (the projection's)
// against counts of the records in Go, aligned and not, with and without filters.
func TestCountsWholeSeconds(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, tokenLogs(t0)))
	var all []store.LogRecord
	for rec, err := range s.QueryLogs(ctx, store.LogQuery{Limit: 1000}) {
		require.NoError(t, err)
		all = append(all, rec)
	}
	require.Len(t, all, len(tokenBodies))
	for _, c := range []struct {
		start, end time.Duration
		step       time.Duration
		filter     store.LogFilter
	}{
		{0, 10 * time.Second, time.Second, store.LogFilter{}},
		{time.Second, 8 * time.Second, 2 * time.Second, store.LogFilter{}},
		{time.Second, 0, 3 * time.Second, store.LogFilter{Services: []string{"svc1"}}},
		{0, 9 * time.Second, time.Second, store.LogFilter{MinSeverity: 9}},
		{0, 9 * time.Second, time.Second, store.LogFilter{Contains: "u-054321"}},
		{300 * time.Millisecond, 9 * time.Second, time.Second, store.LogFilter{}}, // not whole seconds
		{0, 9 * time.Second, 1500 * time.Millisecond, store.LogFilter{}},          // step not whole
		{0, 8*time.Second + time.Nanosecond, 2 * time.Second, store.LogFilter{}},  // end not whole
	} {
		f := c.filter
		f.Start = t0.Add(c.start)
		if c.end > 0 {
			f.End = t0.Add(c.end)
		}
		want := map[string]int64{}
		for _, r := range all {
			if r.Timestamp.Before(f.Start) || !f.End.IsZero() && !r.Timestamp.Before(f.End) {
				continue
			}
			if len(f.Services) > 0 && r.Service != f.Services[0] || r.SeverityNumber < f.MinSeverity ||
				!strings.Contains(strings.ToLower(r.Body), f.Contains) {
				continue
			}
			b := f.Start.Add(r.Timestamp.Sub(f.Start) / c.step * c.step)
			want[b.Format(time.RFC3339Nano)] += 1
		}
		counts, err := s.CountLogs(ctx, store.LogCountQuery{LogFilter: f, Step: c.step})
		require.NoError(t, err)
		got := map[string]int64{}
		for _, n := range counts {
			got[n.Bucket.Format(time.RFC3339Nano)] += n.Count
		}
		require.Equal(t, want, got, "%+v", c)
	}
}

// TestStreamResourcesFallback checks that a stream whose record at the listed time is
// gone still gets its resource (from another of its records).
func TestStreamResourcesFallback(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, tokenLogs(t0)))
	l := s.LogQL().(logqlStore)
	want, err := l.Streams(ctx, t0.UnixNano(), t0.Add(time.Hour).UnixNano(), true)
	require.NoError(t, err)
	require.Len(t, want, 12) // 3 services x 4 hosts
	got := make([]plan.Stream, len(want))
	first := make([]int64, len(want))
	for i, st := range want {
		got[i] = plan.Stream{Key: st.Key, Service: st.Service}
		first[i] = t0.Add(-time.Hour).UnixNano() // no record there
	}
	require.NoError(t, l.resources(ctx, timeRange(t0.UnixNano(), t0.Add(time.Hour).UnixNano()), got, first))
	for i := range want {
		require.Equal(t, want[i].Resource, got[i].Resource)
		require.NotEmpty(t, got[i].Resource)
	}
}

// TestStreamsWholeSeconds checks the stream listing (the projection p_streams for the
// whole seconds, the table for the partial ones) against the records counted in Go, for
// ranges that start and end on whole seconds and inside them.
func TestStreamsWholeSeconds(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, tokenLogs(t0)))
	l := s.LogQL().(logqlStore)
	require.Contains(t, queryText(t, conn, "EXPLAIN "+l.streamsQuery(t0.UnixNano(), t0.Add(time.Hour).UnixNano(), true)),
		"ReadFromMergeTree (p_streams)")
	ld := tokenLogs(t0)
	for _, c := range []struct{ start, end time.Duration }{
		{0, time.Hour}, {0, 0}, {time.Second, 5 * time.Second}, {1400 * time.Millisecond, 7*time.Second + 3},
		{700*time.Millisecond + 1, 2 * time.Second}, {-time.Second, 0}, {1500 * time.Millisecond, 1600 * time.Millisecond},
	} {
		start, end := t0.Add(c.start).UnixNano(), int64(0)
		if c.end > 0 {
			end = t0.Add(c.end).UnixNano()
		}
		type agg struct{ n, b int64 }
		want := map[string]agg{}
		rls := ld.ResourceLogs()
		for i := range rls.Len() {
			rl := rls.At(i)
			lr := rl.ScopeLogs().At(0).LogRecords().At(0)
			ts := int64(lr.Timestamp())
			if ts < start || end > 0 && ts >= end {
				continue
			}
			svc, _ := rl.Resource().Attributes().Get("service.name")
			host, _ := rl.Resource().Attributes().Get("host.n")
			k := svc.Str() + "/" + host.AsString()
			a := want[k]
			want[k] = agg{a.n + 1, a.b + int64(len(lr.Body().Str()))}
		}
		streams, err := l.Streams(ctx, start, end, true)
		require.NoError(t, err)
		got := map[string]agg{}
		for _, st := range streams {
			got[st.Service+"/"+fmt.Sprint(st.Resource["host.n"])] = agg{st.Entries, st.Bytes}
		}
		require.Equal(t, want, got, "%+v", c)
	}
}

// TestWindowedQueryLogs checks that reading a range in windows (newest first) returns
// what one query over the range returns, for limits that end in each window, rare and
// common matches, and pages continued from cursors.
func TestWindowedQueryLogs(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "w")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range 240 {
		for j := range 1 + i%2 { // pairs of equal timestamps
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * 30 * time.Second)))
			body := fmt.Sprintf("common %d.%d", i, j)
			if i%50 == 7 {
				body += " rare"
			}
			lr.Body().SetStr(body)
		}
	}
	require.NoError(t, s.WriteLogs(ctx, ld))
	start, end := t0, t0.Add(2*time.Hour)
	require.Len(t, windowCuts(start, end), 3)
	single := func(f store.LogFilter, limit int) []string {
		conds, err := filterConds(f)
		require.NoError(t, err)
		var out []string
		_, _, err = s.queryWindow(ctx, conds, limit, func(r store.LogRecord, err error) bool {
			out = append(out, r.Cursor+" "+r.Body)
			return true
		})
		require.NoError(t, err)
		return out
	}
	for _, f := range []store.LogFilter{
		{Start: start, End: end}, {Start: start, End: end, Contains: "rare"}, {Start: start.Add(time.Hour), End: end.Add(time.Hour)},
		// Ranges ending long after the newest record (the windows then end at it), and
		// starting after it.
		{Start: start, End: end.Add(30 * time.Hour)}, {Start: start, End: end.Add(30 * time.Hour), Contains: "rare"},
		{Start: end.Add(time.Hour), End: end.Add(3 * time.Hour)},
	} {
		for _, limit := range []int{1, 3, 10, 40, 100, 400} {
			var got []string
			for r, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: f, Limit: limit}) {
				require.NoError(t, err)
				got = append(got, r.Cursor+" "+r.Body)
			}
			require.Equal(t, single(f, limit), got, "%+v limit %d", f, limit)
		}
		var paged []string
		cursor := ""
		for {
			n := 0
			for r, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: f, Limit: 7, Cursor: cursor}) {
				require.NoError(t, err)
				paged = append(paged, r.Cursor+" "+r.Body)
				cursor = r.Cursor
				n++
			}
			if n < 7 {
				break
			}
		}
		require.Equal(t, single(f, 1000), paged, "%+v", f)
	}
}
