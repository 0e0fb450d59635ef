//go:build chdb

package chmetrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// openTest returns a store on a fresh chDB database, and its connection.
func openTest(t testing.TB, opts Options) (*Store, chsql.Conn) {
	t.Helper()
	conn := chsqltest.Open(t)
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), opts, nil)
	require.NoError(t, err)
	return s, conn
}

type point struct {
	T int64
	V float64
}

// selectAll reads every series matching ms (default: all) over all time, by label string.
func selectAll(t testing.TB, q storage.Queryable, ms ...*labels.Matcher) map[string][]point {
	t.Helper()
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")}
	}
	qr, err := q.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer qr.Close()
	set := qr.Select(context.Background(), true, nil, ms...)
	out := map[string][]point{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		pts := []point{}
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			pts = append(pts, point{ts, v})
		}
		require.NoError(t, it.Err())
		out[s.Labels().String()] = pts
	}
	require.NoError(t, set.Err())
	return out
}

func appendAll(t testing.TB, a storage.Appendable, ls labels.Labels, pts ...point) {
	t.Helper()
	app := a.Appender(context.Background())
	for _, p := range pts {
		_, err := app.Append(0, ls, p.T, p.V)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
}

func countRows(t testing.TB, conn chsql.Conn, table string) uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT count() FROM "+table)
	require.NoError(t, err)
	defer rows.Close()
	var n uint64
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&n))
	return n
}

// TestReappend: a series appended again is one series, a sample appended again is one
// sample, and of two values at one time the first written is kept, as in a Prometheus
// TSDB (which refuses the second).
func TestReappend(t *testing.T) {
	s, conn := openTest(t, Options{})
	ls := labels.FromStrings("__name__", "up", "job", "a")
	appendAll(t, s, ls, point{1000, 1}, point{2000, 2})
	appendAll(t, s, ls, point{2000, 2}, point{3000, 3})
	appendAll(t, s, ls, point{3000, 30}) // a different value for a stored time
	// Within one batch too: the first is kept.
	appendAll(t, s, ls, point{4000, 4}, point{4000, 40})
	// Another node (another Store, its own cache) writes the series row again.
	other, err := New(context.Background(), conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err)
	appendAll(t, other, ls, point{5000, 5})
	// An earlier sample written last: read in time order.
	appendAll(t, s, ls, point{500, 0.5}, point{4000, 44})

	got := selectAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "up"))
	require.Equal(t, map[string][]point{ls.String(): {{500, 0.5}, {1000, 1}, {2000, 2}, {3000, 3}, {4000, 4}, {5000, 5}}}, got)
	require.Equal(t, uint64(2), countRows(t, conn, seriesTable), "one series row per writer and day")
}

// TestStaleMarkers: Prometheus' staleness marker (a NaN with a payload) survives the
// round trip, and so do NaN and infinities.
func TestSpecialValues(t *testing.T) {
	s, _ := openTest(t, Options{})
	ls := labels.FromStrings("__name__", "g")
	appendAll(t, s, ls, point{1000, math.Float64frombits(value.StaleNaN)}, point{2000, math.NaN()},
		point{3000, math.Inf(1)}, point{4000, math.Inf(-1)}, point{5000, -0.5})
	got := selectAll(t, s)[ls.String()]
	require.Len(t, got, 5)
	require.True(t, value.IsStaleNaN(got[0].V))
	require.True(t, math.IsNaN(got[1].V) && !value.IsStaleNaN(got[1].V))
	require.Equal(t, []point{{3000, math.Inf(1)}, {4000, math.Inf(-1)}, {5000, -0.5}}, got[2:])
}

func TestNativeHistogramsRefused(t *testing.T) {
	s, _ := openTest(t, Options{})
	app := s.Appender(context.Background())
	_, err := app.AppendHistogram(0, labels.FromStrings("__name__", "h"), 1000, nil, nil)
	require.ErrorContains(t, err, "native histograms are not supported")
	_, err = app.Append(0, labels.EmptyLabels(), 1000, 1)
	require.Error(t, err)
	require.NoError(t, app.Rollback())
}

// TestDropBefore: retention drops whole days of series and samples.
func TestDropBefore(t *testing.T) {
	s, _ := openTest(t, Options{})
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for d := range 3 {
		ls := labels.FromStrings("__name__", "m", "day", fmt.Sprint(d))
		t0 := day.AddDate(0, 0, d).Add(time.Hour).UnixMilli()
		appendAll(t, s, ls, point{t0, 1}, point{t0 + 1000, 2})
	}
	ctx := context.Background()
	require.NoError(t, s.DropBefore(ctx, store.SignalLogs, day.AddDate(0, 0, 5)), "another signal: nothing dropped")
	require.Len(t, selectAll(t, s), 3)

	// The cutoff is within day 2: days 0 and 1 are wholly before it.
	require.NoError(t, s.DropBefore(ctx, store.SignalMetrics, day.AddDate(0, 0, 2).Add(30*time.Minute)))
	got := selectAll(t, s)
	require.Len(t, got, 1)
	require.Contains(t, got, `{__name__="m", day="2"}`)
	start, err := s.StartTime()
	require.NoError(t, err)
	require.Equal(t, day.AddDate(0, 0, 2).Add(time.Hour).UnixMilli(), start)

	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	vals, _, err := q.LabelValues(ctx, "day", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"2"}, vals)
	// A late sample for a dropped day is found again: its series row is written again.
	late := labels.FromStrings("__name__", "m", "day", "0")
	appendAll(t, s, late, point{day.Add(2 * time.Hour).UnixMilli(), 3})
	require.Equal(t, []point{{day.Add(2 * time.Hour).UnixMilli(), 3}}, selectAll(t, s)[late.String()])

	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalMetrics])
}

// TestMatchersLikePrometheus: every matcher type selects in SQL exactly the series that
// Prometheus' own matcher accepts, over values with multibyte characters, newlines,
// quotes and a missing label.
func TestMatchersLikePrometheus(t *testing.T) {
	s, _ := openTest(t, Options{})
	values := []string{"é", "ab", "AB", "a\nb", "x'y", `back\slash`, "", "500", "5000"}
	for i, v := range values {
		ls := labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
		if v != "" {
			ls = labels.FromStrings("__name__", "m", "i", fmt.Sprint(i), "v", v)
		}
		appendAll(t, s, ls, point{1000, 1})
	}
	cases := map[labels.MatchType][]string{
		labels.MatchRegexp:    {".", "..", "é", "\\p{L}", "(?i)É", "A.", "(?i)a.", "a.b", "5..", "5..|ab", ".*", ".+", "", "x'y", `back\\slash`, "(a|A)[bB]"},
		labels.MatchNotRegexp: {".", "", ".+", "5.*", "a.b"},
		labels.MatchEqual:     {"é", "", "x'y", `back\slash`, "a\nb"},
		labels.MatchNotEqual:  {"", "ab"},
	}
	for typ, vals := range cases {
		for _, v := range vals {
			m := labels.MustNewMatcher(typ, "v", v)
			want := map[string]bool{}
			for i, val := range values {
				if m.Matches(val) {
					want[fmt.Sprint(i)] = true
				}
			}
			got := map[string]bool{}
			for series := range selectAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"), m) {
				ls, err := parser.ParseMetric(series)
				require.NoError(t, err)
				got[ls.Get("i")] = true
			}
			require.Equal(t, want, got, "matcher %s", m)
		}
	}
}

// TestRetentionTTL: the retention is the tables' TTL, changed or removed at the next start.
func TestRetentionTTL(t *testing.T) {
	ctx := context.Background()
	_, conn := openTest(t, Options{Retention: 48 * time.Hour})
	ttl := func(table string) string {
		clause, err := chsql.TableTTL(ctx, conn, chsqltest.Schema(conn), table)
		require.NoError(t, err)
		return clause
	}
	require.Contains(t, ttl(samplesTable), "toDateTime(intDiv(ts_ms, 1000)) + toIntervalSecond(172800)")
	require.Contains(t, ttl(seriesTable), "toDateTime(day) + toIntervalSecond(259200)")

	_, err := New(ctx, conn, chsqltest.Schema(conn), Options{Retention: 48 * time.Hour}, nil)
	require.NoError(t, err, "the same TTL: not altered")
	_, err = New(ctx, conn, chsqltest.Schema(conn), Options{Retention: time.Hour}, nil)
	require.NoError(t, err)
	require.Contains(t, ttl(samplesTable), "+ toIntervalSecond(3600)")
	_, err = New(ctx, conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err)
	require.Empty(t, ttl(samplesTable))
	require.Empty(t, ttl(seriesTable))
	_, err = New(ctx, conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err, "no TTL to remove")
}

// TestManySeries: above maxInlineIDs series the samples query selects the series with a
// subquery instead of a list of ids; the answer is the same.
func TestManySeries(t *testing.T) {
	s, _ := openTest(t, Options{})
	app := s.Appender(context.Background())
	n := maxInlineIDs + 100
	for i := range n {
		_, err := app.Append(0, labels.FromStrings("__name__", "many", "i", fmt.Sprint(i)), 1000, float64(i))
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	got := selectAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "many"))
	require.Len(t, got, n)
	require.Equal(t, []point{{1000, 7}}, got[`{__name__="many", i="7"}`])
	got = selectAll(t, s, labels.MustNewMatcher(labels.MatchRegexp, "i", "1.."))
	require.Len(t, got, 100)
}

// TestExemplarsSameAsTSDB: exemplars appended to both stores come back the same from the
// exemplar querier (by time range and matcher sets), a repeated one once.
func TestExemplarsSameAsTSDB(t *testing.T) {
	ch, _ := openTest(t, Options{})
	topts := tsdb.DefaultOptions()
	topts.MinFreeBytes = 0
	ref, err := tsdb.Open(t.TempDir(), topts, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })

	t0 := time.Now().Add(-time.Hour).UnixMilli()
	a := labels.FromStrings("__name__", "req_bucket", "le", "1", "job", "api")
	b := labels.FromStrings("__name__", "req_bucket", "le", "+Inf", "job", "web")
	for _, st := range []storage.Appendable{ch, ref} {
		for i := range int64(5) {
			app := st.Appender(context.Background())
			for _, ls := range []labels.Labels{a, b} {
				ts := t0 + i*15_000
				_, err := app.Append(0, ls, ts, float64(i))
				require.NoError(t, err)
				ex := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprint("t", i), "span_id", "s"), Value: 0.5 + float64(i), Ts: ts, HasTs: true}
				_, err = app.AppendExemplar(0, ls, ex)
				require.NoError(t, err)
				if i == 2 {
					_, _ = app.AppendExemplar(0, ls, ex) // the same again
				}
			}
			require.NoError(t, app.Commit())
		}
	}
	sets := [][][]*labels.Matcher{
		{{labels.MustNewMatcher(labels.MatchEqual, "__name__", "req_bucket")}},
		{{labels.MustNewMatcher(labels.MatchEqual, "job", "api")}, {labels.MustNewMatcher(labels.MatchRegexp, "le", `\+Inf`)}},
		{{labels.MustNewMatcher(labels.MatchEqual, "job", "nothing")}},
	}
	for _, ms := range sets {
		for _, r := range [][2]int64{{t0, t0 + 60_000}, {t0 + 15_000, t0 + 30_000}} {
			want := selectExemplars(t, ref, r[0], r[1], ms)
			got := selectExemplars(t, ch, r[0], r[1], ms)
			require.Equal(t, want, got, "%v %v", ms, r)
		}
	}
	require.Equal(t, 2, strings.Count(selectExemplars(t, ch, t0, t0+60_000, sets[0]), "__name__"), "two series")
	require.Equal(t, 10, strings.Count(selectExemplars(t, ch, t0, t0+60_000, sets[0]), "trace_id"), "five exemplars each, the repeated one once")

	app := ch.Appender(context.Background())
	_, err = app.AppendExemplar(0, a, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", strings.Repeat("x", 200)), Ts: t0, HasTs: true})
	require.ErrorIs(t, err, storage.ErrExemplarLabelLength)
	require.NoError(t, app.Rollback())
}

func selectExemplars(t *testing.T, q storage.ExemplarQueryable, start, end int64, ms [][]*labels.Matcher) string {
	t.Helper()
	eq, err := q.ExemplarQuerier(context.Background())
	require.NoError(t, err)
	res, err := eq.Select(start, end, ms...)
	require.NoError(t, err)
	slices.SortFunc(res, func(a, b exemplar.QueryResult) int { return labels.Compare(a.SeriesLabels, b.SeriesLabels) })
	return fmt.Sprint(res)
}

// TestConcurrentAppenders: appenders committing at once, on shared and own series, lose
// nothing and duplicate nothing.
func TestConcurrentAppenders(t *testing.T) {
	s, _ := openTest(t, Options{})
	const writers, batches = 4, 5
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for b := range batches {
				app := s.Appender(context.Background())
				ts := int64(b) * 1000
				_, err = app.Append(0, labels.FromStrings("__name__", "shared"), ts, 1)
				if err == nil {
					_, err = app.Append(0, labels.FromStrings("__name__", "own", "w", fmt.Sprint(w)), ts, float64(w))
				}
				if err == nil {
					err = app.Commit()
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	got := selectAll(t, s)
	require.Len(t, got, writers+1)
	require.Len(t, got[`{__name__="shared"}`], batches, "one sample per time, whoever wrote it")
	for w := range writers {
		require.Len(t, got[fmt.Sprintf(`{__name__="own", w="%d"}`, w)], batches)
	}
}
