package tsdb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Beyond MaxSeries, samples of new series are refused naming the tenant and the limit,
// while known series keep accepting samples: through the Appender (remote write,
// scrapes) and through WriteMetrics (OTLP), whose partial success then carries the limit.
func TestMaxSeries(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxSeries, opts.Tenant = 3, "team-a"
	s, _, _ := openTest(t, opts)
	ts := recent().UnixMilli()
	series := func(v string) labels.Labels { return labels.FromStrings("__name__", "m", "k", v) }

	app := s.Appender(context.Background())
	for _, v := range []string{"1", "2", "3"} {
		_, err := app.Append(0, series(v), ts, 1)
		require.NoError(t, err)
	}
	_, err := app.Append(0, series("4"), ts, 1)
	le, ok := tenant.AsLimit(err)
	require.True(t, ok, "want a tenant limit error, got %v", err)
	require.Equal(t, tenant.KeyMaxSeries, le.Key)
	require.Contains(t, err.Error(), `tenant "team-a": tenants.limits.max_series of 3 exceeded (3 series in the metric store`)
	ref, err := app.Append(0, series("1"), ts+1000, 2) // known: accepted
	require.NoError(t, err)
	_, err = app.Append(ref, series("1"), ts+2000, 3)
	require.NoError(t, err)
	require.NoError(t, app.Commit())
	require.Len(t, selectSeries(t, s, nameIs("m")), 3)
	require.Len(t, selectSeries(t, s, nameIs("m"))[series("1").String()], 3)

	// OTLP: a new series is a point refused in a partial success that carries the limit.
	b := tsdbtest.NewBatch(nil)
	b.Gauge("m", "", map[string]string{"k": "2"}, recent().Add(time.Minute), time.Minute, 5)
	b.Gauge("m", "", map[string]string{"k": "5"}, recent().Add(time.Minute), time.Minute, 5)
	err = s.WriteMetrics(context.Background(), b.Metrics)
	require.ErrorIs(t, err, tenant.ErrLimit)
	var pe *store.PartialError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, int64(1), pe.Rejected, pe.Msg)
	require.Contains(t, pe.Msg, "max_series")
	require.Len(t, selectSeries(t, s, nameIs("m"))[series("2").String()], 2, "the known series took its point")
	require.Equal(t, 2.0, testutil.ToFloat64(s.metrics.rejected.WithLabelValues(reasonMaxSeries)), "each refused sample counted once")

	_, err = Open(t.TempDir(), Options{Retention: time.Hour, MaxSeries: -1, TranslationStrategy: NoTranslation}, nil, nil)
	require.ErrorContains(t, err, "max series must not be negative")
}

// A cached ref of a series no longer in the head (a scrape or StatsD cache outliving a
// head compaction) makes the head create the series from its labels: the limit holds there
// too. Before the PreCreation hook such an append created a series over the limit.
func TestMaxSeriesStaleRef(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxSeries, opts.Tenant = 2, "team-a"
	s, _, _ := openTest(t, opts)
	ts := recent().UnixMilli()
	series := func(v string) labels.Labels { return labels.FromStrings("__name__", "m", "k", v) }

	app := s.Appender(context.Background())
	for _, v := range []string{"1", "2"} {
		_, err := app.Append(0, series(v), ts, 1)
		require.NoError(t, err)
	}
	const staleRef = 1 << 40 // no series of the head has it
	_, err := app.Append(staleRef, series("3"), ts, 1)
	le, ok := tenant.AsLimit(err)
	require.True(t, ok, "want a tenant limit error, got %v", err)
	require.Equal(t, tenant.KeyMaxSeries, le.Key)
	_, err = app.Append(staleRef, series("1"), ts+1000, 2) // known by its labels: accepted
	require.NoError(t, err)
	require.NoError(t, app.Commit())
	require.Len(t, selectSeries(t, s, nameIs("m")), 2)
	require.Equal(t, 1.0, testutil.ToFloat64(s.metrics.rejected.WithLabelValues(reasonMaxSeries)))
}

// Series the WAL holds are replayed at a restart even when max_series was lowered below
// their number meanwhile: what was acknowledged is never dropped; new series stay refused.
func TestMaxSeriesReplayKeepsSeries(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	s, err := Open(dir, opts, nil, nil)
	require.NoError(t, err)
	ts := recent().UnixMilli()
	app := s.Appender(context.Background())
	for _, v := range []string{"1", "2", "3"} {
		_, err := app.Append(0, labels.FromStrings("__name__", "m", "k", v), ts, 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	require.NoError(t, s.Close())

	opts.MaxSeries = 1
	s, err = Open(dir, opts, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.Len(t, selectSeries(t, s, nameIs("m")), 3)
	app = s.Appender(context.Background())
	_, err = app.Append(0, labels.FromStrings("__name__", "m", "k", "4"), ts, 1)
	require.ErrorIs(t, err, tenant.ErrLimit)
	require.NoError(t, app.Rollback())
}
