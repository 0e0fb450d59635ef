package pipeline

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
)

// Reasons for loupe_ingest_rejected_items_total besides the limit problems.
const (
	reasonQueueFull   = "queue_full"
	reasonNotRunning  = "not_running"
	reasonWriteFailed = "write_failed"
	reasonStore       = "store_rejected" // a MetricWriter's PartialError
	reasonStoreBusy   = "store_busy"     // store.ErrBusy: the store's insert limits refused the write
	reasonCanceled    = "canceled"       // the caller gave up before the write started
)

// selfMetrics are the pipeline's own Prometheus collectors, labelled by signal
// ("logs", "spans", "metrics").
type selfMetrics struct {
	items         *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	queueDepth    *prometheus.GaugeVec
	writeDuration *prometheus.HistogramVec
	batchItems    *prometheus.HistogramVec
	batchRequests *prometheus.HistogramVec
	splitRetries  *prometheus.CounterVec
	admitted      *prometheus.GaugeVec   // admission.go
	throttled     *prometheus.CounterVec // admission.go, by path
	logStreams    prometheus.Gauge
}

func newSelfMetrics(reg prometheus.Registerer, logger *slog.Logger) *selfMetrics {
	m := &selfMetrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_ingest_items_total",
			Help: "Items (log records, spans, metric data points) committed to the store.",
		}, []string{"signal"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_ingest_rejected_items_total",
			Help: "Items not committed, by reason (a limit, queue_full, not_running, write_failed, store_rejected, store_busy, canceled, or a tenant limit: ingest_rate, max_bytes_per_day).",
		}, []string{"signal", "reason"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loupe_pipeline_queue_depth",
			Help: "Items waiting in the pipeline queue to be written.",
		}, []string{"signal"}),
		writeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loupe_store_write_duration_seconds",
			Help:    "Duration of one store write (one batch).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"signal"}),
		batchItems: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loupe_pipeline_batch_items",
			Help:    "Items per store write.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"signal"}),
		batchRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loupe_pipeline_batch_requests",
			Help:    "Requests merged into one store write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}, []string{"signal"}),
		splitRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_pipeline_split_retries_total",
			Help: "Merged writes that failed and were retried request by request.",
		}, []string{"signal"}),
		admitted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loupe_pipeline_admitted_items",
			Help: "Items reserved by paths that append to the store themselves (remote write, scrape, StatsD); they share limits.queue_items with the queue.",
		}, []string{"signal"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_ingest_throttled_total",
			Help: "Refusals for want of room in the metrics queue on the paths that bypass it, by path: remote_write requests answered 503, scrapes failed, StatsD flushes that dropped samples.",
		}, []string{"path"}),
		logStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_log_streams_active",
			Help: "Log streams (distinct resources) with a record in the last limits stream idle time; counted only with limits.max_log_streams.",
		}),
	}
	m.items = selfmetrics.Register(reg, logger, m.items)
	m.rejected = selfmetrics.Register(reg, logger, m.rejected)
	m.queueDepth = selfmetrics.Register(reg, logger, m.queueDepth)
	m.writeDuration = selfmetrics.Register(reg, logger, m.writeDuration)
	m.batchItems = selfmetrics.Register(reg, logger, m.batchItems)
	m.batchRequests = selfmetrics.Register(reg, logger, m.batchRequests)
	m.splitRetries = selfmetrics.Register(reg, logger, m.splitRetries)
	m.admitted = selfmetrics.Register(reg, logger, m.admitted)
	m.throttled = selfmetrics.Register(reg, logger, m.throttled)
	m.logStreams = selfmetrics.Register(reg, logger, m.logStreams)
	return m
}
