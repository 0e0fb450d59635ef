//go:build chdb

package chmetrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// TestWriteMetricsSameAsTSDB: OTLP metrics written to both stores give the same series
// and samples (target_info, unit and type suffixes, job/instance, histogram buckets,
// summary quantiles), and the same partial errors for what neither stores.
func TestWriteMetricsSameAsTSDB(t *testing.T) {
	// The embedded store's default translation: underscore escaping with suffixes.
	ch, _ := openTest(t, Options{Translation: prw.Settings{
		AddMetricSuffixes:         true,
		PromoteResourceAttributes: prw.NewPromoteResourceAttributes(config.OTLPConfig{}),
	}})
	topts := tsdb.DefaultOptions()
	topts.MinFreeBytes = 0
	topts.ConvertDelta = false
	ref, err := tsdb.Open(t.TempDir(), topts, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })

	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	b := tsdbtest.NewBatch(map[string]string{"service.name": "checkout", "service.instance.id": "i-1", "host.name": "h"})
	b.Sum("http.server.requests", "{request}", map[string]string{"http.route": "/pay"}, t0, 15*time.Second, 1, 5, 9, 12)
	b.Gauge("process.memory.usage", "By", nil, t0, 15*time.Second, 100, 120, 90)
	b.Histogram("http.server.duration", "s", map[string]string{"http.route": "/pay"},
		tsdbtest.HistogramPoint{T: t0, Bounds: []float64{0.1, 1}, Counts: []uint64{1, 2, 0}, Sum: 1.5},
		tsdbtest.HistogramPoint{T: t0.Add(15 * time.Second), Bounds: []float64{0.1, 1}, Counts: []uint64{2, 4, 1}, Sum: 4})
	b.Summary("rpc.latency", "ms", nil, t0, 10, 55, map[float64]float64{0.5: 4, 0.99: 20})
	md := b.Metrics
	require.NoError(t, ref.WriteMetrics(context.Background(), md))
	require.NoError(t, ch.WriteMetrics(context.Background(), md))
	require.Equal(t, selectAll(t, ref), selectAll(t, ch))
	require.Len(t, selectAll(t, ch), 12)

	// A delta sum is refused by both (Loupe converts deltas before the TSDB when
	// metrics.convert_delta is on; the ClickHouse store does not convert them yet).
	d := tsdbtest.NewBatch(map[string]string{"service.name": "checkout"})
	m := d.Sum("jobs.done", "", nil, t0, time.Second, 1)
	m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	errRef, errCH := ref.WriteMetrics(context.Background(), d.Metrics), ch.WriteMetrics(context.Background(), d.Metrics)
	var pe *store.PartialError
	require.True(t, errors.As(errRef, &pe), "%v", errRef)
	require.True(t, errors.As(errCH, &pe), "%v", errCH)
	require.Equal(t, int64(1), pe.Rejected)

	// An exponential histogram is a native histogram: refused, the rest of the batch kept.
	e := tsdbtest.NewBatch(map[string]string{"service.name": "checkout"})
	e.ExpHistogram("latency", "s", nil, tsdbtest.ExpHistogramPoint{T: t0, Scale: 0, Counts: []uint64{1, 2}, Sum: 3})
	e.Gauge("queue.size", "", nil, t0, time.Second, 7)
	err = ch.WriteMetrics(context.Background(), e.Metrics)
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, int64(1), pe.Rejected)
	require.ErrorContains(t, err, "native histograms are not supported")
	require.Contains(t, selectAll(t, ch), `{__name__="queue_size", job="checkout"}`)
}
