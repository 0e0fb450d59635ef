package loadgen

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// NextRemoteWriteV2 is NextRemoteWrite in the remote-write 2.0 format (symbol table, label
// references, metric type metadata), for the "remote-write-2" protocol.
func (g *MetricGen) NextRemoteWriteV2() (Batch, bool, error) {
	b, ok, err := g.nextSeries()
	if err != nil || !ok {
		return Batch{}, ok, err
	}
	st := writev2.NewSymbolTable()
	req := &writev2.Request{Timeseries: make([]writev2.TimeSeries, 0, len(b.series))}
	var buf []uint32
	for i, ts := range b.series {
		lb := labels.NewScratchBuilder(len(ts.Labels))
		for _, l := range ts.Labels {
			lb.Add(l.Name, l.Value)
		}
		buf = st.SymbolizeLabels(lb.Labels(), buf[:0])
		req.Timeseries = append(req.Timeseries, writev2.TimeSeries{
			LabelsRefs: append([]uint32(nil), buf...),
			Samples:    []writev2.Sample{{Value: ts.Samples[0].Value, Timestamp: ts.Samples[0].Timestamp}},
			Metadata:   writev2.Metadata{Type: b.types[i]},
		})
	}
	req.Symbols = st.Symbols()
	raw, err := req.Marshal()
	if err != nil {
		return Batch{}, false, fmt.Errorf("encode remote write 2.0: %w", err)
	}
	return Batch{Body: snappy.Encode(nil, raw), Items: len(req.Timeseries), Shard: b.shard}, true, nil
}

// seriesBatch is one request's worth of samples before encoding.
type seriesBatch struct {
	series []prompb.TimeSeries
	types  []writev2.Metadata_MetricType
	shard  int
}

func metricType(k instrumentKind) writev2.Metadata_MetricType {
	switch k {
	case kindCounter:
		return writev2.Metadata_METRIC_TYPE_COUNTER
	case kindGauge:
		return writev2.Metadata_METRIC_TYPE_GAUGE
	default:
		return writev2.Metadata_METRIC_TYPE_HISTOGRAM
	}
}
