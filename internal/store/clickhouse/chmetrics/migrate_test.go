//go:build chdb

package chmetrics

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// oldWriter writes series and samples as the store did before migration 3 (samples
// without the metric name, in metric_samples), standing for a database of that version
// or a node still running it.
type oldWriter struct {
	t    *testing.T
	conn chsql.Conn
}

func (w oldWriter) series(ls labels.Labels, day time.Time) {
	w.t.Helper()
	m := ls.Map()
	delete(m, labels.MetricName)
	require.NoError(w.t, w.conn.Insert(context.Background(), "metric_series", []string{"tenant", "day", "metric", "series_id", "labels"},
		[][]any{{"", day.Format(time.DateOnly), ls.Get(labels.MetricName), labels.StableHash(ls), m}}))
}

func (w oldWriter) samples(ls labels.Labels, ver uint64, pts ...point) {
	w.t.Helper()
	rows := make([][]any, 0, len(pts))
	for _, p := range pts {
		v, stale := p.V, value.IsStaleNaN(p.V)
		if stale {
			v = math.NaN()
		}
		rows = append(rows, []any{"", labels.StableHash(ls), p.T, v, stale, ver})
	}
	require.NoError(w.t, w.conn.Insert(context.Background(), "metric_samples", []string{"tenant", "series_id", "ts_ms", "value", "stale", "ver"}, rows))
}

// TestMigrateSamplesByMetric starts the store on a database of the previous schema with
// data (two metrics, a series without a name, a re-sent sample with another value, a
// staleness marker, and a sample that a node of the previous version writes while the
// copy runs) and checks that every selector reads what was written, that the old table
// is gone, and that writes and reads go on after it.
func TestMigrateSamplesByMetric(t *testing.T) {
	ctx := context.Background()
	conn := chsqltest.Open(t)
	schema := chsqltest.Schema(conn)
	require.NoError(t, chsql.Migrate(ctx, conn, schema, component, migrations[:2], nil))
	old := oldWriter{t, conn}

	t0 := time.Date(2026, 12, 7, 23, 50, 0, 0, time.UTC) // crosses a day
	want := map[string][]point{}
	var all []labels.Labels
	for _, name := range []string{"a_total", "b_total"} {
		for i := range 5 {
			ls := labels.FromStrings("__name__", name, "job", fmt.Sprint("j", i%2), "instance", fmt.Sprint(i))
			all = append(all, ls)
			var pts []point
			for k := range 80 { // 15 s apart: 20 minutes
				pts = append(pts, point{t0.UnixMilli() + int64(k)*15_000, float64(i*100 + k)})
			}
			old.series(ls, t0)
			old.series(ls, t0.Add(24*time.Hour).Truncate(24*time.Hour))
			old.samples(ls, 1, pts...)
			want[ls.String()] = pts
		}
	}
	nameless := labels.FromStrings("job", "nameless")
	all = append(all, nameless)
	old.series(nameless, t0)
	stalePts := []point{{t0.UnixMilli(), 1}, {t0.UnixMilli() + 15_000, math.Float64frombits(value.StaleNaN)}}
	old.samples(nameless, 1, stalePts...)
	want[nameless.String()] = stalePts
	// A copy of a stored sample, re-sent later (a higher ver) with another value: the
	// first written is read.
	old.samples(all[3], 2, point{want[all[3].String()][7].T, -1})

	// Migration 3 (the copy) has run when a node of the previous version writes.
	require.NoError(t, chsql.Migrate(ctx, conn, schema, component, migrations[:3], nil))
	late := point{t0.UnixMilli() + 80*15_000, 12345}
	old.samples(all[0], 3, late)
	want[all[0].String()] = append(want[all[0].String()], late)

	s, err := New(ctx, conn, schema, Options{}, nil)
	require.NoError(t, err)
	require.Empty(t, queryText(t, conn, "SELECT name FROM system.tables WHERE database = "+chsql.String(conn.Database())+
		" AND name IN ('metric_samples', 'metric_samples_forward')"))

	got := selectAll(t, s)
	delete(want, nameless.String()) // __name__=~".+" does not match it
	requirePoints(t, want, got)
	want[nameless.String()] = stalePts
	for _, ls := range all {
		var ms []*labels.Matcher
		ls.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
		requirePoints(t, map[string][]point{ls.String(): want[ls.String()]}, selectAll(t, s, ms...))
	}
	byJob := selectAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "job", "j1"))
	require.Len(t, byJob, 4, "instances 1 and 3 of both metrics")

	// The store goes on writing and reading the new table.
	next := point{late.T + 15_000, 7}
	appendAll(t, s, all[0], next)
	requirePoints(t, map[string][]point{all[0].String(): append(want[all[0].String()], next)},
		selectAll(t, s, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total"), labels.MustNewMatcher(labels.MatchEqual, "instance", "0")))
}

// requirePoints compares series by label string, staleness markers by kind (NaN is not
// equal to itself).
func requirePoints(t *testing.T, want, got map[string][]point) {
	t.Helper()
	norm := func(m map[string][]point) map[string][]string {
		out := map[string][]string{}
		for k, pts := range m {
			for _, p := range pts {
				v := strconv.FormatFloat(p.V, 'g', -1, 64)
				if value.IsStaleNaN(p.V) {
					v = "stale"
				}
				out[k] = append(out[k], fmt.Sprint(p.T, " ", v))
			}
		}
		return out
	}
	require.Equal(t, norm(want), norm(got))
}

// TestSamplesReadOneMetric checks with EXPLAIN that a selector's samples query reads the
// granules of its metric only: 40 metrics of 30 series, 240 samples each (35 granules),
// so one metric's samples fill under one granule. Ordered by series id alone (the
// previous schema), they were spread over most granules.
func TestSamplesReadOneMetric(t *testing.T) {
	s, conn := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixMilli()
	app := s.Appender(ctx)
	for m := range 40 {
		for i := range 30 {
			ls := labels.FromStrings("__name__", fmt.Sprint("m", m, "_total"), "instance", fmt.Sprint(i))
			for k := range 240 {
				_, err := app.Append(0, ls, t0+int64(k)*15_000, float64(k))
				require.NoError(t, err)
			}
		}
	}
	require.NoError(t, app.Commit())
	require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+samplesTable+" FINAL"))

	granules := regexp.MustCompile(`PrimaryKey[\s\S]*?Condition: (.*)\n[\s\S]*?Granules: (\d+)/(\d+)`)
	for _, c := range []struct {
		matcher     *labels.Matcher
		maxGranules int
	}{
		{labels.MustNewMatcher(labels.MatchEqual, "__name__", "m5_total"), 2},
		// A regular expression reads the granules of the names it matched.
		{labels.MustNewMatcher(labels.MatchRegexp, "__name__", "m1[01]_total"), 3},
	} {
		q := &querier{s: s, mint: t0, maxt: t0 + 3600_000}
		series, err := q.series(ctx, q.mint, q.maxt, []*labels.Matcher{c.matcher})
		require.NoError(t, err)
		require.NotEmpty(t, series)
		plan := queryText(t, conn, "EXPLAIN indexes = 1 "+q.samplesQuery(q.mint, q.maxt, []*labels.Matcher{c.matcher}, series))
		m := granules.FindStringSubmatch(plan)
		require.NotNil(t, m, plan)
		require.Contains(t, m[1], "metric in", plan)
		read, total := atoi(t, m[2]), atoi(t, m[3])
		require.GreaterOrEqual(t, total, 30, plan) // 288,000 samples in granules of 8,192 rows or less
		require.LessOrEqual(t, read, c.maxGranules, plan)

		got := selectAll(t, s, c.matcher)
		require.Len(t, got, len(series))
		for _, pts := range got {
			require.Len(t, pts, 240)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// queryText returns the first column of every row of q, one row a line.
func queryText(t *testing.T, conn chsql.Conn, q string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		fmt.Fprintln(&b, v)
	}
	require.NoError(t, rows.Err())
	return strings.TrimSuffix(b.String(), "\n")
}
