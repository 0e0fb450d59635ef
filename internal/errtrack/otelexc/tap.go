package otelexc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
)

// Recorder files error events: it groups them into issues, scrubs them and stores them
// (errtrack's Recorder). On nil every event is committed; events whose EventID is already
// stored are skipped, so recording a batch twice is harmless. Safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, events []errtrack.Event) error
}

// Tap is a store.LogWriter and store.SpanWriter that records the exceptions carried by the
// batches it writes (FromLogs, FromTraces) and then hands the batches on to the next
// writers. The events are recorded before the batch is written, so a nil error means both
// are: acknowledged data always has its error events. When recording fails the batch fails
// too (the client retries it); when the batch write fails after the events were recorded,
// the retry records them again with the same event ids, which the store skips.
//
// An exception that cannot be extracted never fails the batch: it is logged at warn and
// counted in loupe_errors_otel_rejected_total, and its span or log record is stored as
// usual. A batch without exceptions costs a walk over its span events and log attribute
// keys.
//
// Safe for concurrent use.
type Tap struct {
	rec    Recorder
	logs   store.LogWriter
	spans  store.SpanWriter
	logger *slog.Logger

	rejected *prometheus.CounterVec
	recorded *prometheus.CounterVec
}

var (
	_ store.LogWriter  = (*Tap)(nil)
	_ store.SpanWriter = (*Tap)(nil)
)

// NewTap returns a Tap recording exceptions with rec and writing batches to logs and
// spans. A nil logger discards logs; a nil reg registers no metrics.
func NewTap(rec Recorder, logs store.LogWriter, spans store.SpanWriter, logger *slog.Logger, reg prometheus.Registerer) *Tap {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tap{
		rec: rec, logs: logs, spans: spans, logger: logger,
		rejected: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_errors_otel_rejected_total",
			Help: "OpenTelemetry exceptions (span events, log records) that could not be turned into error events; their spans and logs were stored as usual.",
		}, []string{"source"})),
		recorded: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_errors_otel_events_total",
			Help: "Error events extracted from OpenTelemetry exceptions and recorded (a retried batch counts again; the store skips the duplicates).",
		}, []string{"source"})),
	}
}

// WriteLogs records the exceptions in ld, then writes ld. See store.LogWriter.
func (t *Tap) WriteLogs(ctx context.Context, ld plog.Logs) error {
	events, failures := FromLogs(ld, time.Now().UTC())
	if err := t.record(ctx, events, failures, errtrack.SourceOTelLog); err != nil {
		return err
	}
	return t.logs.WriteLogs(ctx, ld)
}

// WriteTraces records the exceptions in td, then writes td. See store.SpanWriter.
func (t *Tap) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	events, failures := FromTraces(td, time.Now().UTC())
	if err := t.record(ctx, events, failures, errtrack.SourceOTelSpan); err != nil {
		return err
	}
	return t.spans.WriteTraces(ctx, td)
}

func (t *Tap) record(ctx context.Context, events []errtrack.Event, failures []Failure, source string) error {
	for _, f := range failures {
		t.rejected.WithLabelValues(f.Source).Inc()
		t.logger.Warn("OpenTelemetry exception not recorded as an error event; its data is stored as usual", "source", f.Source, "err", f.Err)
	}
	if len(events) == 0 {
		return nil
	}
	if err := t.rec.Record(ctx, events); err != nil {
		return fmt.Errorf("record error events: %w", err)
	}
	t.recorded.WithLabelValues(source).Add(float64(len(events)))
	return nil
}
