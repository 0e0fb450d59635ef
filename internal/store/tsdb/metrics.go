package tsdb

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// writeMetrics are the store's self-metrics; the TSDB adds its own prometheus_tsdb_*.
type writeMetrics struct {
	samplesWritten   prometheus.Counter
	rejected         *prometheus.CounterVec
	exemplarsDropped prometheus.Counter
	failedWrites     prometheus.Counter
	writeDuration    prometheus.Histogram
}

func newWriteMetrics(reg prometheus.Registerer) (*writeMetrics, error) {
	m := &writeMetrics{
		samplesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_metrics_samples_written_total",
			Help: "Samples (floats and native histograms) committed to the metric store by OTLP writes.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_metrics_rejected_total",
			Help: "OTLP data points or Prometheus samples skipped by metric writes, by reason.",
		}, []string{"reason"}),
		exemplarsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_metrics_exemplars_dropped_total",
			Help: "Exemplars the TSDB refused (out of order, duplicate, too long); they never fail a write.",
		}),
		failedWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_metrics_write_failures_total",
			Help: "OTLP metric writes that failed as a whole and were rolled back.",
		}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                           "loupe_metrics_write_duration_seconds",
			Help:                           "Time to translate and commit one OTLP metrics batch.",
			Buckets:                        prometheus.ExponentialBuckets(0.0005, 4, 9),
			NativeHistogramBucketFactor:    1.1,
			NativeHistogramMaxBucketNumber: 100,
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.samplesWritten, m.rejected, m.exemplarsDropped, m.failedWrites, m.writeDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metric store metrics: %w", err)
		}
	}
	return m, nil
}
