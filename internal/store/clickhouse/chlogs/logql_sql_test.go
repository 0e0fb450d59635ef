//go:build chdb

package chlogs

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// These tests check what the SQL translation must get exactly right, beyond the engine's
// cases: line filters (pushed down and not re-applied by the engine) against Go's
// strings.Contains and regexp, the attribute narrowing against the engine's own filter,
// and the bucket counts against the row-by-row evaluation.

// edgeBodies are bodies that trip a translation to SQL: quotes and backslashes (string
// literals), % and _ (LIKE), case, non-ASCII, newlines ('.' in ClickHouse's match).
var edgeBodies = []string{
	`plain GET /users`, `get lower`, `it's a "quote"`, `back\slash`, `100% done`, `snake_case_word`,
	"two\nlines", "tab\there", `Ünïcödé Straße`, `STRASSE`, `a.b`, `axb`, ``, `ends with $`,
}

func writeEdgeLogs(t *testing.T, st *Store) {
	require.NoError(t, st.WriteLogs(context.Background(), EdgeLogs()))
}

// EdgeLogs is a batch of service "edge" with edgeBodies and attributes whose labels differ
// from their stored forms. Exported for the external test package (logql_duck_test.go).
func EdgeLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "edge")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i, body := range edgeBodies {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr(body)
		a := lr.Attributes()
		// Attribute values whose label text differs from the stored string form (doubles
		// 2.0 -> "2", JSON values) or needs no translation (ints, bools, strings).
		switch i % 7 {
		case 0:
			a.PutDouble("x", 2)
		case 1:
			a.PutDouble("x", 1.5)
		case 2:
			a.PutInt("x", 2)
		case 3:
			a.PutEmptySlice("x").AppendEmpty().SetStr("2")
		case 4:
			a.PutBool("x", true)
		case 5:
			a.PutEmptyBytes("x").FromRaw([]byte{0, 1, 2})
		case 6:
			a.PutEmptyMap("x").PutDouble("a", 2)
		}
		a.PutStr("k", fmt.Sprintf("v%d", i%3))
		// Two keys with the same label name.
		if i%2 == 0 {
			a.PutStr("a.b", "1")
		} else {
			a.PutStr("a-b", "1")
		}
	}
	return ld
}

func TestLogQLLineFiltersMatchGo(t *testing.T) {
	st := newStore(t, chsqltest.Open(t), Options{})
	writeEdgeLogs(t, st)
	contains := []string{"GET", "get", "'", `"quote"`, `\`, `%`, `_`, `e_c`, "Straße", "straße", "\n", "", "$"}
	regexps := []string{`(?i)get`, `^two`, `lines$`, `two.lines`, `(?s)two.lines`, `a\.b`, `a.b`, `\d+%`, `Stra(ß|ss)e`, `(?i)strasse`, `^$`, `\$$`}
	var filters []plan.LineFilter
	for _, v := range contains {
		filters = append(filters, plan.LineFilter{Op: plan.LineContains, Values: []string{v}},
			plan.LineFilter{Op: plan.LineNotContains, Values: []string{v}})
	}
	for _, v := range regexps {
		filters = append(filters, plan.LineFilter{Op: plan.LineMatch, Values: []string{v}},
			plan.LineFilter{Op: plan.LineNotMatch, Values: []string{v}})
	}
	filters = append(filters, plan.LineFilter{Op: plan.LineContains, Values: []string{"GET", "Straße"}},
		plan.LineFilter{Op: plan.LineNotMatch, Values: []string{`^a`, `%`}})
	ctx := context.Background()
	for _, f := range filters {
		var want []string
		for _, b := range edgeBodies {
			if goMatch(t, f, b) {
				want = append(want, b)
			}
		}
		var got []string
		for r, err := range st.LogQL().Rows(ctx, plan.Select{Start: t0.UnixNano(), End: t0.Add(time.Hour).UnixNano(), LineFilters: []plan.LineFilter{f}, Forward: true}) {
			require.NoError(t, err)
			got = append(got, r.Body)
		}
		require.Equal(t, want, got, "filter %d %q", f.Op, f.Values)
	}
}

// goMatch is what the engine would decide for f without the store (LogQL's semantics).
func goMatch(t *testing.T, f plan.LineFilter, body string) bool {
	hit := false
	for _, v := range f.Values {
		switch f.Op {
		case plan.LineContains, plan.LineNotContains:
			hit = hit || strings.Contains(body, v)
		default:
			ok, err := regexp.MatchString(v, body)
			require.NoError(t, err)
			hit = hit || ok
		}
	}
	if f.Op == plan.LineNotContains || f.Op == plan.LineNotMatch {
		return !hit
	}
	return hit
}

// TestLogQLAttrNarrowing compares label filters pushed down to the store (narrowing) with
// the same filters evaluated by the engine alone (after a stage that stops pushdown).
func TestLogQLAttrNarrowing(t *testing.T) {
	st := newStore(t, chsqltest.Open(t), Options{})
	writeEdgeLogs(t, st)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	p := logql.Params{Start: t0, End: t0.Add(time.Hour), Step: time.Minute, Limit: 100}
	for _, f := range []string{`x="2"`, `x="1.5"`, `x="true"`, `x="[\"2\"]"`, `x="AAEC"`, `x="{\"a\":2}"`, `k="v1"`, `k="v1", x="2"`, `a_b="1"`, `x="nope"`, `nokey="1"`} {
		pushed, err := eng.Query(context.Background(), `{service_name="edge"} | `+f, p)
		require.NoError(t, err, f)
		engine, err := eng.Query(context.Background(), `{service_name="edge"} | drop nothing | `+f, p)
		require.NoError(t, err, f)
		require.Equal(t, RenderResult(engine), RenderResult(pushed), f)
		if f != `x="nope"` && f != `nokey="1"` {
			require.NotEmpty(t, RenderResult(pushed), f)
		}
	}
}

// TestLogQLPushdownMatchesRows checks the store's bucket counting against the row-by-row
// evaluation (forced by a no-op stage), as logql's TestPushdownMatchesRows does for the
// embedded backend.
func TestLogQLPushdownMatchesRows(t *testing.T) {
	st := newLogQLStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	ctx := context.Background()
	for _, op := range []string{"count_over_time", "rate", "bytes_over_time", "bytes_rate"} {
		for _, c := range []struct{ rng, step string }{{"1m", "1m"}, {"1m", "15s"}, {"30s", "1m"}, {"45s", "20s"}, {"7s", "3s"}, {"2m", "1s"}} {
			name := fmt.Sprintf("%s/%s/%s", op, c.rng, c.step)
			step, err := time.ParseDuration(c.step)
			require.NoError(t, err)
			p := logql.Params{Start: t0.Add(-10 * time.Second), End: t0.Add(3 * time.Minute), Step: step}
			sel := `{service_name=~"api|worker|nginx"} |= "e"`
			pushed, err := eng.Query(ctx, fmt.Sprintf("%s(%s [%s])", op, sel, c.rng), p)
			require.NoError(t, err, name)
			require.True(t, pushed.Stats.PushedDown, name)
			rows, err := eng.Query(ctx, fmt.Sprintf("%s(%s | drop nothing [%s])", op, sel, c.rng), p)
			require.NoError(t, err, name)
			require.False(t, rows.Stats.PushedDown, name)
			require.NotEmpty(t, rows.Series, name)
			require.Equal(t, rows.Series, pushed.Series, name)
		}
	}
	res, err := eng.Query(ctx, `sum by (level, detected_level) (count_over_time({job="nginx"} | drop __error__ [1m]))`,
		logql.Params{Start: t0, End: t0.Add(2 * time.Minute), Step: time.Minute})
	require.NoError(t, err)
	require.True(t, res.Stats.PushedDown, "Grafana's volume query")
	require.NotEmpty(t, res.Series)
}

// TestLogQLManyStreams checks the path where the selector matches more streams than the
// engine hands the store by key (it then filters rows by stream itself).
func TestLogQLManyStreams(t *testing.T) {
	st := newLogQLStore(t)
	small := logql.DefaultOptions()
	small.MaxStreamFilter = 1
	a := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	b := logql.NewEngine(st.LogQL(), small, nil)
	p := logql.Params{Start: t0, End: t0.Add(3 * time.Minute), Step: 30 * time.Second, Limit: 3}
	for _, q := range []string{`{job="nginx"}`, `{service_name=~"api|nginx"} |= "GET"`, `sum by (env) (count_over_time({job="nginx"}[1m]))`} {
		want, err := a.Query(context.Background(), q, p)
		require.NoError(t, err)
		got, err := b.Query(context.Background(), q, p)
		require.NoError(t, err)
		require.Equal(t, want.Streams, got.Streams, q)
		require.Equal(t, want.Series, got.Series, q)
		require.True(t, len(got.Streams) > 0 || len(got.Series) > 0, q)
	}
}

// TestLogQLStreams checks the stream list: one stream per resource, with stats when asked.
func TestLogQLStreams(t *testing.T) {
	st := newLogQLStore(t)
	ctx := context.Background()
	streams, err := st.LogQL().Streams(ctx, t0.UnixNano(), t0.Add(time.Hour).UnixNano(), true)
	require.NoError(t, err)
	var got []string
	for _, s := range streams {
		got = append(got, fmt.Sprintf("%s %v %d", s.Service, s.Resource, s.Entries))
	}
	slices.Sort(got)
	require.Equal(t, []string{
		"api map[deployment.environment:prod host.name:h1 service.name:api] 12",
		"nginx map[env:dev job:nginx service.name:nginx] 2",
		"nginx map[env:prod job:nginx service.name:nginx] 6",
		"worker map[host.name:h2 service.name:worker] 8",
	}, got)
	streams, err = st.LogQL().Streams(ctx, t0.Add(-2*time.Hour).UnixNano(), t0.UnixNano(), false)
	require.NoError(t, err)
	require.Len(t, streams, 1)
	require.Equal(t, "old", streams[0].Service)
	require.Zero(t, streams[0].Entries)

	_, err = st.LogQL().Buckets(ctx, plan.Select{}, 0, 0)
	require.ErrorContains(t, err, "width")
}

// TestLogQLSkipIndexes checks with EXPLAIN that the pushed-down line and label filters
// let the body's ngram index and the attribute values' bloom filter skip granules: two
// parts (merges stopped), neither holding the needle or the value, are both skipped.
func TestLogQLSkipIndexes(t *testing.T) {
	conn := chsqltest.Open(t)
	st := newStore(t, conn, Options{})
	require.NoError(t, conn.Exec(context.Background(), "SYSTEM STOP MERGES logs"))
	writeEdgeLogs(t, st)
	writeEdgeLogs(t, st)
	for name, sel := range map[string]plan.Select{
		"idx_body":        {LineFilters: []plan.LineFilter{{Op: plan.LineContains, Values: []string{"Needle"}}}},
		"idx_attr_values": {AttrFilters: []plan.AttrFilter{{Name: "a_b", Value: "nope"}}},
	} {
		conds, err := st.LogQL().(logqlStore).logqlConds(context.Background(), sel)
		require.NoError(t, err)
		q := "EXPLAIN indexes = 1 SELECT count() FROM logs WHERE " + strings.Join(conds, " AND ")
		out := queryText(t, conn, q)
		_, after, ok := strings.Cut(out, "Name: "+name)
		require.True(t, ok, "%s\n%s", q, out)
		_, after, ok = strings.Cut(after, "Granules: ")
		require.True(t, ok, "%s\n%s", q, out)
		require.True(t, strings.HasPrefix(after, "0/2"), "%s\n%s", q, out)
	}
}

// TestLogQLServiceKey checks that reading listed streams filters on their service, which
// the primary key (tenant, service, ts) answers.
func TestLogQLServiceKey(t *testing.T) {
	conn := chsqltest.Open(t)
	st := newStore(t, conn, Options{})
	writeEdgeLogs(t, st)
	l := st.LogQL().(logqlStore)
	ctx := context.Background()
	streams, err := l.Streams(ctx, t0.UnixNano(), t0.Add(time.Hour).UnixNano(), false)
	require.NoError(t, err)
	require.Len(t, streams, 1)
	conds, err := l.logqlConds(ctx, plan.Select{Streams: []uint64{streams[0].Key}})
	require.NoError(t, err)
	require.Contains(t, conds, "service IN ('edge')")
	out := queryText(t, conn, "EXPLAIN indexes = 1 SELECT count() FROM logs WHERE "+strings.Join(conds, " AND "))
	_, pk, _ := strings.Cut(out, "PrimaryKey")
	require.Contains(t, pk, "service in", out)
	// A key this engine has not listed goes without the service filter.
	conds, err = l.logqlConds(ctx, plan.Select{Streams: []uint64{streams[0].Key + 1}})
	require.NoError(t, err)
	require.NotContains(t, strings.Join(conds, " "), "service IN")
}

func TestSanitizeLabelName(t *testing.T) {
	for _, k := range []string{"user.id", "user_id", "a-b/c", "9lives", "ünï", "", "_x", "A1", "\xff"} {
		require.Equal(t, logql.SanitizeLabelName(k), sanitizeLabelName(k), k)
	}
}
