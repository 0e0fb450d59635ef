package derived_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/derived"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
	"github.com/loupe-dev/loupe/internal/store/duck"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

type point struct {
	t int64
	v float64
}

// stores opens a real event store and metrics store in dir (reopened across calls).
func stores(t *testing.T, dir string) (*duck.Store, *tsdb.Store) {
	t.Helper()
	ev, err := duck.Open(filepath.Join(dir, "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	opts := tsdb.DefaultOptions()
	opts.OutOfOrderTimeWindow = 24 * time.Hour
	ms, err := tsdb.Open(filepath.Join(dir, "metrics"), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	return ev, ms
}

// read returns every sample of the series named name, keyed by their labels.
func read(t *testing.T, ms *tsdb.Store, name string) map[string][]point {
	t.Helper()
	q, err := ms.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
	out := map[string][]point{}
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], point{ts, v})
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, ss.Err())
	return out
}

func TestIssuesCreated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ev, ms := stores(t, dir)
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	w := derived.NewErrors(ev, ev, ms, derived.ErrorsOptions{Now: clock}, nil, nil)

	// Two events of one new issue, one of another: two issues created.
	require.NoError(t, w.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(1, "checkout", now), errtracktest.Event(2, "checkout", now), errtracktest.Event(3, "cart", now)}))
	now = now.Add(time.Second)
	// A known issue again: nothing new.
	require.NoError(t, w.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(4, "cart", now)}))
	key := `{__name__="loupe_error_issues_created_total", environment="prod", level="error", project="1", release="1.0.0", service="shop"}`
	got := read(t, ms, derived.IssuesCreatedMetric)
	start := now.Add(-time.Second).UnixMilli()
	// A 0 before the first count, so that increase() sees the first issue.
	require.Equal(t, map[string][]point{key: {{start - 1, 0}, {start, 1}, {start + 1, 2}}}, got)

	// After a restart, known issues are looked up in the store: still nothing new, and a
	// new one counts from 0 again (a counter reset).
	require.NoError(t, ev.Close())
	require.NoError(t, ms.Close())
	ev, ms = stores(t, dir)
	defer ev.Close()
	defer ms.Close()
	w = derived.NewErrors(ev, ev, ms, derived.ErrorsOptions{Now: clock}, nil, nil)
	now = now.Add(time.Second)
	require.NoError(t, w.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(5, "cart", now), errtracktest.Event(6, "checkout", now)}))
	require.Len(t, read(t, ms, derived.IssuesCreatedMetric)[key], 3)
	now = now.Add(time.Second)
	require.NoError(t, w.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(7, "login", now)}))
	pts := read(t, ms, derived.IssuesCreatedMetric)[key]
	require.Equal(t, []point{{now.UnixMilli() - 1, 0}, {now.UnixMilli(), 1}}, pts[3:])
}

func TestRunSeries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ev, ms := stores(t, dir)
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	w := derived.NewRuns(ev, ev, ms, derived.RunsOptions{Now: clock}, nil, nil)
	base := now.Add(-time.Hour)

	// Six succeeded runs of nightly of 10..60 s, each sent twice (the log record and the
	// span carry the same final record), and a running record first.
	running := runstest.Parse(t, runstest.Record(1, "nightly", runs.StatusRunning, base))
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{running}))
	for i := 1; i <= 6; i++ {
		rec := runstest.Record(i, "nightly", runs.StatusSucceeded, base.Add(time.Duration(i)*time.Minute))
		rec.DurationSeconds = float64(10 * i)
		rec.EndTime = rec.StartTime.Add(time.Duration(10*i) * time.Second)
		r := runstest.Parse(t, rec)
		require.NoError(t, w.UpsertRuns(ctx, []runs.Run{r}))
		now = now.Add(time.Millisecond)
		require.NoError(t, w.UpsertRuns(ctx, []runs.Run{r})) // a retry: not counted again
	}
	failed := runstest.Record(7, "nightly", runs.StatusFailed, base.Add(10*time.Minute))
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, failed)}))

	completed := read(t, ms, derived.RunsCompletedMetric)
	ok := completed[`{__name__="loupe_run_completed_total", job="nightly", status="succeeded"}`]
	require.Len(t, ok, 7) // the 0, then 1..6
	require.Equal(t, 6.0, ok[6].v)
	bad := completed[`{__name__="loupe_run_completed_total", job="nightly", status="failed"}`]
	require.Equal(t, []float64{0, 1}, []float64{bad[0].v, bad[1].v})

	dur := read(t, ms, derived.RunDurationMetric)[`{__name__="loupe_run_completed_duration_seconds", job="nightly"}`]
	require.Len(t, dur, 7)
	require.Equal(t, point{failed.EndTime.UnixMilli(), 10}, dur[6])
	avg := read(t, ms, derived.RunDurationAvgMetric)[`{__name__="loupe_run_completed_duration_avg5_seconds", job="nightly"}`]
	// None for the first run; then the mean of up to five before: 10, 15, 20, 25, 30, and
	// for the sixth (60 s) 30 ((10+20+30+40+50)/5); the failed run compares with 20..60.
	require.Equal(t, []float64{10, 15, 20, 25, 30, 40}, values(avg))
	success := read(t, ms, derived.RunSuccessMetric)[`{__name__="loupe_run_completed_success", job="nightly"}`]
	require.Equal(t, []float64{1, 1, 1, 1, 1, 1, 0}, values(success))

	// After a restart the average starts from the stored runs, and a retried final record
	// of a stored run is not counted again.
	require.NoError(t, ev.Close())
	require.NoError(t, ms.Close())
	ev, ms = stores(t, dir)
	defer ev.Close()
	defer ms.Close()
	w = derived.NewRuns(ev, ev, ms, derived.RunsOptions{Now: clock}, nil, nil)
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, failed)}))
	rec := runstest.Record(8, "nightly", runs.StatusSucceeded, base.Add(20*time.Minute))
	now = now.Add(time.Second)
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, rec)}))
	avg = read(t, ms, derived.RunDurationAvgMetric)[`{__name__="loupe_run_completed_duration_avg5_seconds", job="nightly"}`]
	require.Equal(t, 40.0, avg[len(avg)-1].v)
	bad = read(t, ms, derived.RunsCompletedMetric)[`{__name__="loupe_run_completed_total", job="nightly", status="failed"}`]
	require.Len(t, bad, 2)
}

func values(ps []point) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.v
	}
	return out
}

// With more issues in the store than MaxKnown, new issues are told by a lookup each, and
// are counted the same.
func TestIssuesCreatedPastMaxKnown(t *testing.T) {
	ctx := context.Background()
	ev, ms := stores(t, t.TempDir())
	defer ev.Close()
	defer ms.Close()
	now := time.Now().Truncate(time.Second)
	require.NoError(t, ev.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(1, "a", now), errtracktest.Event(2, "b", now)}))
	w := derived.NewErrors(ev, ev, ms, derived.ErrorsOptions{MaxKnown: 1, Now: func() time.Time { return now }}, nil, nil)
	require.NoError(t, w.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(3, "a", now), errtracktest.Event(4, "b", now), errtracktest.Event(5, "c", now)}))
	pts := read(t, ms, derived.IssuesCreatedMetric)
	require.Len(t, pts, 1)
	for _, p := range pts {
		require.Equal(t, []point{{now.UnixMilli() - 1, 0}, {now.UnixMilli(), 1}}, p)
	}
}
