package tsdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// benchBatch is one export of a realistic service: 400 counter series, 400 gauge series
// and 200 histogram series (10 bounds, so 13 samples each), 1,000 series in all, over 30
// metric names with 40 attribute combinations (route x method x status).
type benchBatch struct {
	md      pmetric.Metrics
	samples int // Prometheus samples per batch, target_info included
	rng     *rand.Rand
}

func newBenchBatch() *benchBatch {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.instance.id", "checkout-7d9f8-abcde")
	ra.PutStr("host.name", "node-17")
	ra.PutStr("deployment.environment", "prod")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	attrs := func(m pcommon.Map, i int) {
		m.PutStr("http.route", fmt.Sprintf("/api/v1/items/%d", i%10))
		m.PutStr("http.request.method", []string{"GET", "POST"}[i/10%2])
		m.PutInt("http.response.status_code", int64([]int{200, 500}[i/20%2]))
	}
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	for k := range 10 {
		c := ms.AppendEmpty()
		c.SetName(fmt.Sprintf("app.requests.%d", k))
		c.SetEmptySum().SetIsMonotonic(true)
		c.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		g := ms.AppendEmpty()
		g.SetName(fmt.Sprintf("app.inflight.%d", k))
		g.SetUnit("{request}")
		g.SetEmptyGauge()
		for i := range 40 {
			attrs(c.Sum().DataPoints().AppendEmpty().Attributes(), i)
			attrs(g.Gauge().DataPoints().AppendEmpty().Attributes(), i)
		}
	}
	for k := range 5 {
		h := ms.AppendEmpty()
		h.SetName(fmt.Sprintf("app.duration.%d", k))
		h.SetUnit("s")
		h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := range 40 {
			dp := h.Histogram().DataPoints().AppendEmpty()
			attrs(dp.Attributes(), i)
			dp.ExplicitBounds().FromRaw(bounds)
			dp.BucketCounts().FromRaw(make([]uint64, len(bounds)+1))
		}
	}
	return &benchBatch{md: md, samples: 400 + 400 + 200*13 + 1, rng: rand.New(rand.NewPCG(1, 2))}
}

// advance moves every point to t and grows the values the way a live service does.
func (b *benchBatch) advance(t time.Time) {
	ts := pcommon.NewTimestampFromTime(t)
	ms := b.md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		switch m.Type() {
		case pmetric.MetricTypeSum:
			dps := m.Sum().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				dp.SetTimestamp(ts)
				dp.SetIntValue(dp.IntValue() + int64(b.rng.IntN(50)))
			}
		case pmetric.MetricTypeGauge:
			dps := m.Gauge().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				dp.SetTimestamp(ts)
				dp.SetIntValue(int64(b.rng.IntN(20)))
			}
		case pmetric.MetricTypeHistogram:
			dps := m.Histogram().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				dp.SetTimestamp(ts)
				var n uint64
				for k := 0; k < dp.BucketCounts().Len(); k++ {
					c := dp.BucketCounts().At(k) + uint64(b.rng.IntN(5))
					dp.BucketCounts().SetAt(k, c)
					n += c
				}
				dp.SetCount(n)
				dp.SetSum(dp.Sum() + b.rng.Float64()*float64(n-dp.Count()+1))
			}
		}
	}
}

func openBench(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(b.TempDir(), opts, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkWriteMetrics writes one 1,000-series export per iteration, 15s apart.
func BenchmarkWriteMetrics(b *testing.B) {
	s := openBench(b, DefaultOptions())
	batch := newBenchBatch()
	ctx := context.Background()
	start := time.Now().Add(-time.Duration(b.N+1) * 15 * time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		batch.advance(start.Add(time.Duration(i) * 15 * time.Second))
		b.StartTimer()
		if err := s.WriteMetrics(ctx, batch.md); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*batch.samples)/sec, "samples/s")
	b.ReportMetric(float64(b.N*1000)/sec, "series-points/s")
}

// BenchmarkDiskBytesPerSample writes 2 hours of 15s exports, compacts the head into a
// block and reports the block's bytes per sample (index included, WAL excluded).
func BenchmarkDiskBytesPerSample(b *testing.B) {
	const exports = 2 * 60 * 4
	for range b.N {
		s := openBench(b, DefaultOptions())
		batch := newBenchBatch()
		start := time.Now().Add(-3 * time.Hour).Truncate(2 * time.Hour)
		for i := range exports {
			batch.advance(start.Add(time.Duration(i) * 15 * time.Second))
			if err := s.WriteMetrics(context.Background(), batch.md); err != nil {
				b.Fatal(err)
			}
		}
		head := s.DB().Head()
		if err := s.DB().CompactHead(promtsdb.NewRangeHead(head, head.MinTime(), head.MaxTime())); err != nil {
			b.Fatal(err)
		}
		blocks := s.DB().Blocks()
		if len(blocks) == 0 {
			b.Fatal(errors.New("no block after compaction"))
		}
		var size int64
		for _, blk := range blocks {
			size += dirSize(b, blk.Dir())
		}
		b.ReportMetric(float64(size)/float64(exports*batch.samples), "bytes/sample")
	}
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
