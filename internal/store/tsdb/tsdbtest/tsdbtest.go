// Package tsdbtest builds OTLP metric batches for tests of the metric store and its users.
package tsdbtest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Start is the start timestamp given to every cumulative point built here.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Batch is one OTLP metrics batch with a single resource and scope.
type Batch struct {
	Metrics pmetric.Metrics
	list    pmetric.MetricSlice
}

// NewBatch starts a batch whose resource has the given attributes.
func NewBatch(resource map[string]string) *Batch {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	for k, v := range resource {
		rm.Resource().Attributes().PutStr(k, v)
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("tsdbtest")
	return &Batch{Metrics: md, list: sm.Metrics()}
}

func (b *Batch) metric(name, unit, help string) pmetric.Metric {
	m := b.list.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	m.SetDescription(help)
	return m
}

func putAttrs(m pcommon.Map, attrs map[string]string) {
	for k, v := range attrs {
		m.PutStr(k, v)
	}
}

// Sum adds a monotonic cumulative sum (a Prometheus counter) with one point per value,
// the i-th at t0 + i*step.
func (b *Batch) Sum(name, unit string, attrs map[string]string, t0 time.Time, step time.Duration, values ...float64) pmetric.Metric {
	m := b.metric(name, unit, "sum "+name)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, v := range values {
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(Start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * step)))
		dp.SetDoubleValue(v)
		putAttrs(dp.Attributes(), attrs)
	}
	return m
}

// Gauge adds a gauge with one point per value, the i-th at t0 + i*step.
func (b *Batch) Gauge(name, unit string, attrs map[string]string, t0 time.Time, step time.Duration, values ...float64) pmetric.Metric {
	m := b.metric(name, unit, "gauge "+name)
	g := m.SetEmptyGauge()
	for i, v := range values {
		dp := g.DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * step)))
		dp.SetDoubleValue(v)
		putAttrs(dp.Attributes(), attrs)
	}
	return m
}

// HistogramPoint is one explicit-bucket histogram point: Counts has len(Bounds)+1 entries.
type HistogramPoint struct {
	T      time.Time
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Histogram adds a cumulative explicit-bucket histogram.
func (b *Batch) Histogram(name, unit string, attrs map[string]string, points ...HistogramPoint) pmetric.Metric {
	m := b.metric(name, unit, "histogram "+name)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, p := range points {
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(Start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.T))
		dp.ExplicitBounds().FromRaw(p.Bounds)
		dp.BucketCounts().FromRaw(p.Counts)
		var n uint64
		for _, c := range p.Counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.Sum)
		putAttrs(dp.Attributes(), attrs)
	}
	return m
}

// ExpHistogramPoint is one exponential histogram point with positive buckets only.
type ExpHistogramPoint struct {
	T         time.Time
	Scale     int32
	Offset    int32
	Counts    []uint64
	ZeroCount uint64
	Sum       float64
}

// ExpHistogram adds a cumulative exponential histogram (a Prometheus native histogram).
func (b *Batch) ExpHistogram(name, unit string, attrs map[string]string, points ...ExpHistogramPoint) pmetric.Metric {
	m := b.metric(name, unit, "exponential histogram "+name)
	h := m.SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, p := range points {
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(Start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.T))
		dp.SetScale(p.Scale)
		dp.Positive().SetOffset(p.Offset)
		dp.Positive().BucketCounts().FromRaw(p.Counts)
		dp.SetZeroCount(p.ZeroCount)
		n := p.ZeroCount
		for _, c := range p.Counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.Sum)
		putAttrs(dp.Attributes(), attrs)
	}
	return m
}

// Summary adds a summary point with the given quantiles (quantile -> value).
func (b *Batch) Summary(name, unit string, attrs map[string]string, t time.Time, count uint64, sum float64, quantiles map[float64]float64) pmetric.Metric {
	m := b.metric(name, unit, "summary "+name)
	dp := m.SetEmptySummary().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(Start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	dp.SetCount(count)
	dp.SetSum(sum)
	for q, v := range quantiles {
		qv := dp.QuantileValues().AppendEmpty()
		qv.SetQuantile(q)
		qv.SetValue(v)
	}
	putAttrs(dp.Attributes(), attrs)
	return m
}
