package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// openTest opens a store in a fresh directory and closes it at the end of the test.
func openTest(t *testing.T, opts Options) (*Store, string, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := Open(dir, opts, nil, reg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, dir, reg
}

type point struct {
	T int64
	V float64
	H *histogram.FloatHistogram
}

// selectSeries returns every stored series matching the matchers, by label string.
func selectSeries(t *testing.T, s *Store, ms ...*labels.Matcher) map[string][]point {
	t.Helper()
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	set := q.Select(context.Background(), true, nil, ms...)
	out := map[string][]point{}
	var it chunkenc.Iterator
	for set.Next() {
		series := set.At()
		it = series.Iterator(it)
		var pts []point
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				ts, v := it.At()
				pts = append(pts, point{T: ts, V: v})
			case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
				ts, h := it.AtFloatHistogram(nil)
				pts = append(pts, point{T: ts, H: h})
			}
		}
		require.NoError(t, it.Err())
		out[series.Labels().String()] = pts
	}
	require.NoError(t, set.Err())
	return out
}

func nameIs(name string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name)
}

// recent is a base time the head accepts and that is not in the future.
func recent() time.Time {
	return time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
}

var svc = map[string]string{"service.name": "api", "service.instance.id": "i-1", "host.name": "node1"}

func TestWriteEveryMetricType(t *testing.T) {
	s, _, reg := openTest(t, DefaultOptions())
	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	b.Sum("http.server.requests", "", map[string]string{"http.route": "/x"}, t0, time.Minute, 10, 20)
	b.Gauge("process.memory.usage", "By", nil, t0, time.Minute, 1024)
	b.Histogram("http.server.duration", "s", nil, tsdbtest.HistogramPoint{
		T: t0, Bounds: []float64{0.1, 1}, Counts: []uint64{1, 2, 3}, Sum: 9.5,
	})
	b.ExpHistogram("rpc.duration", "ms", nil, tsdbtest.ExpHistogramPoint{
		T: t0, Scale: 0, Offset: 0, Counts: []uint64{1, 2}, ZeroCount: 1, Sum: 7,
	})
	b.Summary("gc.pause", "s", nil, t0, 4, 2, map[float64]float64{0.5: 0.4, 0.99: 1.2})
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))

	ms := t0.UnixMilli()
	base := `instance="i-1", job="api"`
	require.Equal(t, map[string][]point{
		`{__name__="http_server_requests_total", http_route="/x", ` + base + `}`: {{T: ms, V: 10}, {T: ms + 60000, V: 20}},
	}, selectSeries(t, s, nameIs("http_server_requests_total")))
	require.Equal(t, map[string][]point{
		`{__name__="process_memory_usage_bytes", ` + base + `}`: {{T: ms, V: 1024}},
	}, selectSeries(t, s, nameIs("process_memory_usage_bytes")))

	buckets := selectSeries(t, s, nameIs("http_server_duration_seconds_bucket"))
	require.Equal(t, map[string][]point{
		`{__name__="http_server_duration_seconds_bucket", ` + base + `, le="0.1"}`:  {{T: ms, V: 1}},
		`{__name__="http_server_duration_seconds_bucket", ` + base + `, le="1"}`:    {{T: ms, V: 3}},
		`{__name__="http_server_duration_seconds_bucket", ` + base + `, le="+Inf"}`: {{T: ms, V: 6}},
	}, buckets)
	require.Equal(t, []point{{T: ms, V: 9.5}}, selectSeries(t, s, nameIs("http_server_duration_seconds_sum"))[`{__name__="http_server_duration_seconds_sum", `+base+`}`])
	require.Equal(t, []point{{T: ms, V: 6}}, selectSeries(t, s, nameIs("http_server_duration_seconds_count"))[`{__name__="http_server_duration_seconds_count", `+base+`}`])

	native := selectSeries(t, s, nameIs("rpc_duration_milliseconds"))
	require.Len(t, native, 1)
	h := native[`{__name__="rpc_duration_milliseconds", `+base+`}`][0].H
	require.NotNil(t, h)
	require.Equal(t, 4.0, h.Count)
	require.Equal(t, 7.0, h.Sum)
	require.Equal(t, 1.0, h.ZeroCount)
	require.Equal(t, int32(0), h.Schema)

	quantiles := selectSeries(t, s, nameIs("gc_pause_seconds"))
	require.Equal(t, map[string][]point{
		`{__name__="gc_pause_seconds", ` + base + `, quantile="0.5"}`:  {{T: ms, V: 0.4}},
		`{__name__="gc_pause_seconds", ` + base + `, quantile="0.99"}`: {{T: ms, V: 1.2}},
	}, quantiles)

	// Non-identifying resource attributes go to target_info, at the newest timestamp.
	require.Equal(t, map[string][]point{
		`{__name__="target_info", host_name="node1", ` + base + `}`: {{T: ms + 60000, V: 1}},
	}, selectSeries(t, s, nameIs("target_info")))

	require.Equal(t, map[string]metadata.Metadata{
		"http_server_requests_total":   {Type: model.MetricTypeCounter, Help: "sum http.server.requests"},
		"process_memory_usage_bytes":   {Type: model.MetricTypeGauge, Unit: "By", Help: "gauge process.memory.usage"},
		"http_server_duration_seconds": {Type: model.MetricTypeHistogram, Unit: "s", Help: "histogram http.server.duration"},
		"rpc_duration_milliseconds":    {Type: model.MetricTypeHistogram, Unit: "ms", Help: "exponential histogram rpc.duration"},
		"gc_pause_seconds":             {Type: model.MetricTypeSummary, Unit: "s", Help: "summary gc.pause"},
	}, s.Metadata())

	// 2 counter + 1 gauge + 5 histogram + 1 native + 4 summary samples + target_info.
	require.Equal(t, 14.0, testutil.ToFloat64(s.metrics.samplesWritten))
	n, err := testutil.GatherAndCount(reg, "loupe_metrics_write_duration_seconds", "prometheus_tsdb_head_series")
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestConcurrentWrites(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	t0 := recent()
	const writers, batches = 4, 20
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for i := range batches {
				b := tsdbtest.NewBatch(map[string]string{"service.name": "api", "service.instance.id": fmt.Sprint(w)})
				b.Sum("ops", "", nil, t0.Add(time.Duration(i)*time.Second), 0, float64(i))
				m := b.Sum("delta.ops", "", nil, t0.Add(time.Duration(i)*time.Second), 0, 1)
				m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				m.Sum().DataPoints().At(0).SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i-1) * time.Second)))
				err = errors.Join(err, s.WriteMetrics(context.Background(), b.Metrics))
			}
			errs <- err
		}()
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	require.Len(t, selectSeries(t, s, nameIs("ops_total")), writers)
	for _, pts := range selectSeries(t, s, nameIs("delta_ops_total")) {
		require.Len(t, pts, batches)
		require.Equal(t, float64(batches), pts[batches-1].V)
	}
}

func TestPromotedResourceAttributes(t *testing.T) {
	opts := DefaultOptions()
	opts.PromoteResourceAttributes = []string{"host.name", "service.name"}
	s, _, _ := openTest(t, opts)
	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	b.Gauge("temp", "", nil, t0, 0, 3)
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	require.Equal(t, map[string][]point{
		`{__name__="temp", host_name="node1", instance="i-1", job="api", service_name="api"}`: {{T: t0.UnixMilli(), V: 3}},
	}, selectSeries(t, s, nameIs("temp")))
}

func TestDeltaConvertedToCumulative(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	t0 := recent()
	for i, v := range []float64{5, 7, 1} {
		b := tsdbtest.NewBatch(svc)
		m := b.Sum("jobs.done", "", nil, t0.Add(time.Duration(i)*time.Minute), 0, v)
		m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := m.Sum().DataPoints().At(0)
		dp.SetStartTimestamp(dp.Timestamp() - 60e9)
		require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
		// The caller's batch is not rewritten.
		require.Equal(t, pmetric.AggregationTemporalityDelta, m.Sum().AggregationTemporality())
	}
	ms := t0.UnixMilli()
	require.Equal(t, map[string][]point{
		`{__name__="jobs_done_total", instance="i-1", job="api"}`: {{T: ms, V: 5}, {T: ms + 60000, V: 12}, {T: ms + 120000, V: 13}},
	}, selectSeries(t, s, nameIs("jobs_done_total")))

	// A delta that overlaps the running total is dropped and reported.
	b := tsdbtest.NewBatch(svc)
	m := b.Sum("jobs.done", "", nil, t0.Add(time.Minute), 0, 4)
	m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := m.Sum().DataPoints().At(0)
	dp.SetStartTimestamp(dp.Timestamp() - 60e9)
	var perr *store.PartialError
	require.ErrorAs(t, s.WriteMetrics(context.Background(), b.Metrics), &perr)
	require.Equal(t, int64(1), perr.Rejected)
	require.Contains(t, perr.Msg, reasonDelta)
}

func TestDeltaRejectedWithoutConversion(t *testing.T) {
	opts := DefaultOptions()
	opts.ConvertDelta = false
	s, _, reg := openTest(t, opts)
	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	m := b.Sum("jobs.done", "", nil, t0, time.Minute, 5, 7)
	m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	b.Gauge("ok", "", nil, t0, 0, 1)

	var perr *store.PartialError
	require.ErrorAs(t, s.WriteMetrics(context.Background(), b.Metrics), &perr)
	require.Equal(t, int64(2), perr.Rejected)
	require.Contains(t, perr.Msg, `metric "jobs.done" has Delta temporality`)
	require.Empty(t, selectSeries(t, s, nameIs("jobs_done_total")))
	require.Len(t, selectSeries(t, s, nameIs("ok")), 1, "the rest of the batch commits")
	require.Equal(t, 2.0, testutil.ToFloat64(s.metrics.rejected.WithLabelValues(reasonTemporality)))
	n, err := testutil.GatherAndCount(reg, "loupe_metrics_rejected_total")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestPartialErrors(t *testing.T) {
	opts := DefaultOptions()
	opts.OutOfOrderTimeWindow = 0
	s, _, _ := openTest(t, opts)
	t0 := recent()
	ctx := context.Background()

	b := tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0, time.Minute, 1, 2)
	require.NoError(t, s.WriteMetrics(ctx, b.Metrics))

	b = tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0.Add(-time.Minute), 0, 0)        // out of order
	b.Gauge("g", "", map[string]string{"k": "v"}, t0, 0, 10) // fine: another series
	b.ExpHistogram("bad.scale", "", nil, tsdbtest.ExpHistogramPoint{T: t0, Scale: -5, Counts: []uint64{1}})
	b.Gauge("future", "", nil, time.Now().Add(time.Hour), 0, 1)
	err := s.WriteMetrics(ctx, b.Metrics)
	var perr *store.PartialError
	require.ErrorAs(t, err, &perr)
	require.Equal(t, int64(3), perr.Rejected, perr.Msg)
	require.Contains(t, perr.Msg, "1 exponential_histogram_scale")
	require.Contains(t, perr.Msg, "1 out_of_order")
	require.Contains(t, perr.Msg, "1 too_far_in_future")
	require.Len(t, selectSeries(t, s, nameIs("g")), 2)

	// Same timestamp, same value: an idempotent retry, accepted. Different value: rejected.
	b = tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0.Add(time.Minute), 0, 2)
	require.NoError(t, s.WriteMetrics(ctx, b.Metrics))
	b = tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0.Add(time.Minute), 0, 99)
	require.ErrorAs(t, s.WriteMetrics(ctx, b.Metrics), &perr)
	require.Contains(t, perr.Msg, "1 duplicate_timestamp")
}

func TestInconsistentExpHistogramRejected(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	b := tsdbtest.NewBatch(svc)
	m := b.ExpHistogram("lat", "", nil, tsdbtest.ExpHistogramPoint{T: recent(), Counts: []uint64{1, 2}})
	m.ExponentialHistogram().DataPoints().At(0).SetCount(1) // buckets hold 3
	var perr *store.PartialError
	require.ErrorAs(t, s.WriteMetrics(context.Background(), b.Metrics), &perr)
	require.Equal(t, int64(1), perr.Rejected)
	require.Contains(t, perr.Msg, reasonInvalidHist)
}

func TestOutOfOrderWindowAcceptsLateSamples(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0, 0, 2)
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	b = tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0.Add(-time.Minute), 0, 1)
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	got := selectSeries(t, s, nameIs("g"))
	require.Equal(t, []point{{T: t0.Add(-time.Minute).UnixMilli(), V: 1}, {T: t0.UnixMilli(), V: 2}}, got[`{__name__="g", instance="i-1", job="api"}`])
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	t0 := recent()
	s, err := Open(dir, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	b := tsdbtest.NewBatch(svc)
	b.Sum("restarts", "", nil, t0, time.Minute, 1, 2, 3)
	b.ExpHistogram("lat", "s", nil, tsdbtest.ExpHistogramPoint{T: t0, Counts: []uint64{1}, Sum: 1})
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is safe twice")

	s, err = Open(dir, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Len(t, selectSeries(t, s, nameIs("restarts_total"))[`{__name__="restarts_total", instance="i-1", job="api"}`], 3)
	require.Len(t, selectSeries(t, s, nameIs("lat_seconds")), 1)
	require.Equal(t, model.MetricTypeCounter, s.Metadata()["restarts_total"].Type)
	require.Equal(t, "s", s.Metadata()["lat_seconds"].Unit)
}

// TestSurvivesCrash copies the directory of a store that was never closed, as a killed
// process leaves it, and opens the copy: acknowledged writes are in the WAL.
func TestSurvivesCrash(t *testing.T) {
	s, dir, _ := openTest(t, DefaultOptions())
	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	b.Sum("crashes", "", nil, t0, time.Minute, 1, 2)
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))

	crashed := t.TempDir()
	require.NoError(t, os.CopyFS(crashed, os.DirFS(dir)))
	s2, err := Open(crashed, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s2.Close()) }()
	require.Len(t, selectSeries(t, s2, nameIs("crashes_total"))[`{__name__="crashes_total", instance="i-1", job="api"}`], 2)
	require.Equal(t, model.MetricTypeCounter, s2.Metadata()["crashes_total"].Type)
}

func TestCanceledContext(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, recent(), 0, 1)
	err := s.WriteMetrics(ctx, b.Metrics)
	require.ErrorIs(t, err, context.Canceled)
	var perr *store.PartialError
	require.False(t, errors.As(err, &perr))
	require.Empty(t, selectSeries(t, s, nameIs("g")))
}

func TestOptionsValidate(t *testing.T) {
	f := func(mut func(*Options), want string) {
		t.Helper()
		o := DefaultOptions()
		mut(&o)
		err := o.Validate()
		if want == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, want)
	}
	f(func(*Options) {}, "")
	f(func(o *Options) { o.Retention = 0 }, "retention must be positive")
	f(func(o *Options) { o.TranslationStrategy = "x" }, `unknown translation strategy "x"`)
	f(func(o *Options) { o.PromoteAllResourceAttributes = true; o.PromoteResourceAttributes = []string{"a"} }, "cannot be combined")
	f(func(o *Options) { o.IgnoreResourceAttributes = []string{"a"} }, "need promote all")
	f(func(o *Options) { o.PromoteResourceAttributes = []string{"a", "a"} }, `"a" listed twice`)
	f(func(o *Options) { o.MinBlockDuration = time.Hour; o.MaxBlockDuration = time.Minute }, "below min block duration")
	f(func(o *Options) { o.MinFreeBytes = -1 }, "min free bytes must not be negative")
	_, err := Open(t.TempDir(), Options{}, nil, nil)
	require.ErrorContains(t, err, "metric store options")
}

func TestMetricNames(t *testing.T) {
	s, _, _ := openTest(t, DefaultOptions())
	t0 := recent()
	f := func(add func(b *tsdbtest.Batch), want string) {
		t.Helper()
		b := tsdbtest.NewBatch(svc)
		add(b)
		require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
		require.Contains(t, s.Metadata(), want)
		require.NotEmpty(t, selectSeries(t, s, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, want+"(_bucket|_count)?")), want)
	}
	f(func(b *tsdbtest.Batch) { b.Gauge("cpu.utilization", "1", nil, t0, 0, 0.5) }, "cpu_utilization_ratio")
	f(func(b *tsdbtest.Batch) { b.Gauge("disk.io", "By/s", nil, t0, 0, 1) }, "disk_io_bytes_per_second")
	f(func(b *tsdbtest.Batch) { b.Sum("http.server.active_requests", "{request}", nil, t0, 0, 1) }, "http_server_active_requests_total")
	f(func(b *tsdbtest.Batch) {
		b.Histogram("http.server.request.duration", "s", nil, tsdbtest.HistogramPoint{T: t0, Bounds: []float64{1}, Counts: []uint64{1, 0}})
	}, "http_server_request_duration_seconds")
	f(func(b *tsdbtest.Batch) { b.Gauge("jvm.memory.used", "MiBy", nil, t0, 0, 1) }, "jvm_memory_used_mebibytes")
	f(func(b *tsdbtest.Batch) { b.Gauge("temp-°C", "Cel", nil, t0, 0, 1) }, "temp_C_celsius")
}
