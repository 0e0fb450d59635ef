package statsd

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// selfMetrics are the receiver's own loupe_statsd_* metrics.
type selfMetrics struct {
	packets         *prometheus.CounterVec
	lines           *prometheus.CounterVec
	malformed       *prometheus.CounterVec
	logsDropped     *prometheus.CounterVec
	flushes         *prometheus.CounterVec
	samples         prometheus.Counter
	samplesRejected prometheus.Counter
	flushDuration   prometheus.Histogram
	tcpRefused      prometheus.Counter
	tcpIdleClosed   prometheus.Counter
	tcpOpen         prometheus.Gauge
	tlsFailed       prometheus.Counter
}

func newSelfMetrics(reg prometheus.Registerer) (*selfMetrics, error) {
	m := &selfMetrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_statsd_packets_total",
			Help: "UDP datagrams and TCP connections received, by transport.",
		}, []string{"transport"}),
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_statsd_lines_total",
			Help: "Well-formed StatsD lines received, by type (c, g, ms, h, d, s, event, service_check).",
		}, []string{"type"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_statsd_malformed_lines_total",
			Help: "StatsD lines rejected, by reason.",
		}, []string{"reason"}),
		logsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_statsd_logs_dropped_total",
			Help: "Events and service checks not stored, by reason.",
		}, []string{"reason"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_statsd_flushes_total",
			Help: "Flushes of aggregated StatsD metrics to the metric store, by result.",
		}, []string{"result"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_statsd_samples_written_total",
			Help: "Samples written to the metric store by flushes.",
		}),
		samplesRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_statsd_samples_rejected_total",
			Help: "Samples the metric store refused during flushes.",
		}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loupe_statsd_flush_duration_seconds",
			Help:    "Time taken by one flush.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}),
		tcpRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_statsd_tcp_refused_total",
			Help: "TCP connections closed on accept because tcp_max_connections were open.",
		}),
		tcpIdleClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_statsd_tcp_idle_closed_total",
			Help: "TCP connections closed after tcp_idle_timeout without data.",
		}),
		tcpOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_statsd_tcp_connections",
			Help: "TCP connections open now.",
		}),
		tlsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_statsd_tcp_tls_handshake_failures_total",
			Help: "TCP connections closed because their TLS handshake failed (statsd.tcp_tls): plain text, an untrusted or missing client certificate, a timeout.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.packets, m.lines, m.malformed, m.logsDropped,
		m.flushes, m.samples, m.samplesRejected, m.flushDuration, m.tcpRefused, m.tcpIdleClosed, m.tcpOpen, m.tlsFailed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register statsd metrics: %w", err)
		}
	}
	return m, nil
}
