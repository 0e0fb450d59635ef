//go:build chdb

package chmetrics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// loadCorpus appends the same series to every appendable: counters with resets, a gauge
// that goes stale, and a classic histogram, over two hours at a 15 s interval.
func loadCorpus(t testing.TB, t0 time.Time, apps ...storage.Appendable) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	type series struct {
		ls  labels.Labels
		pts []point
	}
	var all []series
	const step, n = 15_000, 480
	start := t0.UnixMilli()
	for _, job := range []string{"api", "web"} {
		for _, inst := range []string{"a", "b", "c"} {
			for _, code := range []string{"200", "404", "500", "503"} {
				ls := labels.FromStrings("__name__", "http_requests_total", "job", job, "instance", inst, "code", code)
				var v float64
				var pts []point
				for i := range n {
					v += float64(rng.IntN(20))
					if i == 200 && inst == "b" {
						v = 0 // a counter reset
					}
					pts = append(pts, point{start + int64(i)*step, v})
				}
				all = append(all, series{ls, pts})
			}
			// A gauge that stops (a staleness marker) halfway.
			ls := labels.FromStrings("__name__", "temperature", "job", job, "instance", inst)
			var pts []point
			for i := range n / 2 {
				pts = append(pts, point{start + int64(i)*step, 20 + rng.Float64()*5})
			}
			pts = append(pts, point{start + int64(n/2)*step, math.Float64frombits(value.StaleNaN)})
			all = append(all, series{ls, pts})
		}
		// A classic histogram: cumulative buckets, sum and count.
		les := []string{"0.1", "0.25", "0.5", "1", "2.5", "+Inf"}
		counts := make([]float64, len(les))
		var sum float64
		bucketPts := make([][]point, len(les))
		var sumPts, countPts []point
		for i := range n {
			ts := start + int64(i)*step
			for range 10 {
				d := rng.ExpFloat64() * 0.4
				sum += d
				for b, le := range les {
					if bound := parseLe(le); d <= bound {
						counts[b]++
					}
				}
			}
			for b := range les {
				bucketPts[b] = append(bucketPts[b], point{ts, counts[b]})
			}
			sumPts = append(sumPts, point{ts, sum})
			countPts = append(countPts, point{ts, counts[len(les)-1]})
		}
		for b, le := range les {
			all = append(all, series{labels.FromStrings("__name__", "request_duration_seconds_bucket", "job", job, "le", le), bucketPts[b]})
		}
		all = append(all, series{labels.FromStrings("__name__", "request_duration_seconds_sum", "job", job), sumPts},
			series{labels.FromStrings("__name__", "request_duration_seconds_count", "job", job), countPts})
	}
	// A label value with characters that need quoting, and one with a newline.
	var oddPts []point
	for i := 0; i < n; i += 10 {
		oddPts = append(oddPts, point{start + int64(i)*step, float64(i)})
	}
	all = append(all, series{labels.FromStrings("__name__", "odd", "path", `/a'b\c`, "msg", "two\nlines"), oddPts})

	for _, a := range apps {
		// Appended in a few commits, as scrapes would.
		for chunk := 0; chunk < n; chunk += 120 {
			app := a.Appender(context.Background())
			for _, s := range all {
				for _, p := range s.pts {
					if p.T >= start+int64(chunk)*step && p.T < start+int64(chunk+120)*step {
						_, err := app.Append(0, s.ls, p.T, p.V)
						require.NoError(t, err)
					}
				}
			}
			require.NoError(t, app.Commit())
		}
	}
}

func parseLe(le string) float64 {
	if le == "+Inf" {
		return math.Inf(1)
	}
	var f float64
	_, _ = fmt.Sscan(le, &f)
	return f
}

// TestPromQLSameAsTSDB runs the same PromQL queries over the same data in the embedded
// TSDB and in ClickHouse and requires the same answers.
func TestPromQLSameAsTSDB(t *testing.T) {
	ch, _ := openTest(t, Options{})
	topts := tsdb.DefaultOptions()
	topts.MinFreeBytes = 0
	topts.OutOfOrderTimeWindow = 24 * time.Hour
	ref, err := tsdb.Open(t.TempDir(), topts, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })

	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	loadCorpus(t, t0, ch, ref)

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	ctx := context.Background()
	queries := []string{
		`http_requests_total`,
		`rate(http_requests_total[5m])`,
		`sum by (code) (rate(http_requests_total[5m]))`,
		`sum without (instance) (increase(http_requests_total{job="api"}[10m]))`,
		`http_requests_total{code=~"5.."}`,
		`http_requests_total{code=~"5..|404", instance!="a"}`,
		`http_requests_total{code!~"2.*", job!="web"}`,
		`http_requests_total{code=~"(?i)5.."}`,
		`http_requests_total{code=~"50"}`, // anchored: matches nothing
		`{__name__=~"http_.*|temp.*", instance="a"}`,
		`count by (__name__) ({__name__!=""})`,
		`temperature`, // stale halfway
		`max_over_time(temperature[10m])`,
		`histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))`,
		`histogram_quantile(0.5, rate(request_duration_seconds_bucket{job="web"}[5m]))`,
		`rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])`,
		`topk(3, sum by (instance) (rate(http_requests_total[5m])))`,
		`odd{path="/a'b\\c"}`,
		`odd{msg=~"two.lines"}`,
		`absent(nothing_here)`,
	}
	start, end := t0.Add(10*time.Minute), t0.Add(2*time.Hour)
	for _, qs := range queries {
		t.Run(qs, func(t *testing.T) {
			want := rangeQuery(t, engine, ref, qs, start, end)
			got := rangeQuery(t, engine, ch, qs, start, end)
			require.Equal(t, want, got)
			wantI := instantQuery(t, engine, ref, qs, t0.Add(time.Hour))
			gotI := instantQuery(t, engine, ch, qs, t0.Add(time.Hour))
			require.Equal(t, wantI, gotI)
		})
	}
	require.NotEmpty(t, rangeQuery(t, engine, ch, `odd{msg=~"two.lines"}`, start, end), "the corpus's odd series is found")

	// Label names and values, with and without matchers, as /api/v1/labels and
	// /api/v1/label/<name>/values ask for them.
	for _, c := range []struct {
		name string
		ms   []*labels.Matcher
	}{
		{"code", nil},
		{"__name__", nil},
		{"instance", []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "code", "500")}},
		{"le", []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "job", "w.b")}},
		{"job", []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "__name__", "temp.*")}},
		{"nothing", nil},
	} {
		mint, maxt := t0.UnixMilli(), t0.Add(3*time.Hour).UnixMilli()
		want, wantNames := labelQueries(t, ref, mint, maxt, c.name, c.ms)
		got, gotNames := labelQueries(t, ch, mint, maxt, c.name, c.ms)
		require.Equal(t, want, got, "values of %s %v", c.name, c.ms)
		require.Equal(t, wantNames, gotNames, "names %v", c.ms)
	}
	q, err := ch.Querier(t0.UnixMilli(), t0.Add(3*time.Hour).UnixMilli())
	require.NoError(t, err)
	vals, _, err := q.LabelValues(ctx, "code", &storage.LabelHints{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"200", "404"}, vals)
	// A range with no data.
	q, err = ch.Querier(t0.Add(-48*time.Hour).UnixMilli(), t0.Add(-47*time.Hour).UnixMilli())
	require.NoError(t, err)
	vals, _, err = q.LabelValues(ctx, "code", nil)
	require.NoError(t, err)
	require.Empty(t, vals)
}

func labelQueries(t *testing.T, st storage.Queryable, mint, maxt int64, name string, ms []*labels.Matcher) (values, names []string) {
	t.Helper()
	q, err := st.Querier(mint, maxt)
	require.NoError(t, err)
	defer q.Close()
	values, _, err = q.LabelValues(context.Background(), name, nil, ms...)
	require.NoError(t, err)
	names, _, err = q.LabelNames(context.Background(), nil, ms...)
	require.NoError(t, err)
	if len(values) == 0 {
		values = nil
	}
	if len(names) == 0 {
		names = nil
	}
	return values, names
}

func rangeQuery(t *testing.T, e *promql.Engine, st storage.Queryable, qs string, start, end time.Time) string {
	t.Helper()
	q, err := e.NewRangeQuery(context.Background(), st, nil, qs, start, end, time.Minute)
	require.NoError(t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err)
	// The order of an instant vector is the storage's (unsorted) series order.
	if v, ok := res.Value.(promql.Vector); ok {
		slices.SortFunc(v, func(a, b promql.Sample) int { return labels.Compare(a.Metric, b.Metric) })
	}
	return res.Value.String()
}

func instantQuery(t *testing.T, e *promql.Engine, st storage.Queryable, qs string, ts time.Time) string {
	t.Helper()
	q, err := e.NewInstantQuery(context.Background(), st, nil, qs, ts)
	require.NoError(t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err)
	// The order of an instant vector is the storage's (unsorted) series order.
	if v, ok := res.Value.(promql.Vector); ok {
		slices.SortFunc(v, func(a, b promql.Sample) int { return labels.Compare(a.Metric, b.Metric) })
	}
	return res.Value.String()
}
