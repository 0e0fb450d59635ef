package chmetrics

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// chSeries is one series read from ClickHouse with its samples, in time order.
type chSeries struct {
	id      uint64
	lset    labels.Labels
	samples fSamples
}

func (s *chSeries) Labels() labels.Labels { return s.lset }

// Iterator is Prometheus' list iterator over the samples (it implements Seek by binary
// search).
func (s *chSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(s.samples)
}

// fSamples implements storage.Samples without allocating: Get points into the slice.
type fSamples []fSample

func (s fSamples) Get(i int) chunks.Sample { return &s[i] }
func (s fSamples) Len() int                { return len(s) }

// fSample is a float sample.
type fSample struct {
	t int64
	f float64
}

func (s *fSample) T() int64                      { return s.t }
func (s *fSample) F() float64                    { return s.f }
func (s *fSample) H() *histogram.Histogram       { return nil }
func (s *fSample) FH() *histogram.FloatHistogram { return nil }
func (s *fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s *fSample) Copy() chunks.Sample           { c := *s; return &c }

// seriesSet iterates over series sorted by labels.
type seriesSet struct {
	series []*chSeries
	i      int
}

func (ss *seriesSet) Next() bool {
	ss.i++
	return ss.i < len(ss.series)
}

func (ss *seriesSet) At() storage.Series                { return ss.series[ss.i] }
func (ss *seriesSet) Err() error                        { return nil }
func (ss *seriesSet) Warnings() annotations.Annotations { return nil }
