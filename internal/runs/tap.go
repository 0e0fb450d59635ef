package runs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
)

// Tap is a store.LogWriter and store.SpanWriter that records the runs carried by the
// batches it writes (FromLogs, FromTraces) and then hands the batches on to the next
// writers. The runs are committed before the batch is written, so a nil error means both
// are: acknowledged data always has its run row. When the batch write fails after the runs
// were recorded, the client's retry records them again, which is harmless.
//
// A record that does not parse never fails the batch: it is logged at warn, counted in
// loupe_runs_rejected_records_total, and its log record or span is stored as usual.
//
// Safe for concurrent use.
type Tap struct {
	runs   Writer
	logs   store.LogWriter
	spans  store.SpanWriter
	logger *slog.Logger

	rejected prometheus.Counter
	recorded prometheus.Counter
}

var (
	_ store.LogWriter  = (*Tap)(nil)
	_ store.SpanWriter = (*Tap)(nil)
)

// NewTap returns a Tap recording runs in w and writing batches to logs and spans. A nil
// logger discards logs; a nil reg registers no metrics.
func NewTap(w Writer, logs store.LogWriter, spans store.SpanWriter, logger *slog.Logger, reg prometheus.Registerer) *Tap {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tap{
		runs: w, logs: logs, spans: spans, logger: logger,
		rejected: selfmetrics.Register(reg, logger, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_runs_rejected_records_total",
			Help: "Run records (loupe.run.record attributes) that could not be parsed; their logs and spans were stored without a run row.",
		})),
		recorded: selfmetrics.Register(reg, logger, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_runs_records_total",
			Help: "Run records upserted into the run store (a run usually has two: at its start and at its end).",
		})),
	}
}

// WriteLogs records the runs in ld, then writes ld. See store.LogWriter.
func (t *Tap) WriteLogs(ctx context.Context, ld plog.Logs) error {
	if err := t.record(ctx, FromLogs(ld), "logs"); err != nil {
		return err
	}
	return t.logs.WriteLogs(ctx, ld)
}

// WriteTraces records the runs in td, then writes td. See store.SpanWriter.
func (t *Tap) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if err := t.record(ctx, FromTraces(td), "spans"); err != nil {
		return err
	}
	return t.spans.WriteTraces(ctx, td)
}

func (t *Tap) record(ctx context.Context, e Extracted, signal string) error {
	for _, err := range e.Rejected {
		t.rejected.Inc()
		t.logger.Warn("run record rejected; the data carrying it is stored without a run row", "signal", signal, "err", err)
	}
	if len(e.Runs) == 0 {
		return nil
	}
	if err := t.runs.UpsertRuns(ctx, e.Runs); err != nil {
		return fmt.Errorf("record runs: %w", err)
	}
	t.recorded.Add(float64(len(e.Runs)))
	return nil
}
