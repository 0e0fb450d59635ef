package sdk

import (
	"log/slog"
	"sync"
	"time"
)

// errorInterval is the least time between two lines of the SDK's own errors. With the
// server down every export fails, once per batch per signal: one line a second would bury
// the program's own output, and the first line already says what is wrong.
const errorInterval = 30 * time.Second

// errorReporter logs the errors OpenTelemetry reports (otel.SetErrorHandler), at most one
// line per errorInterval, counting the ones it held back in the next line. Safe for
// concurrent use.
type errorReporter struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newErrorReporter(log *slog.Logger) *errorReporter {
	return &errorReporter{log: log, now: time.Now}
}

// Handle implements otel.ErrorHandler.
func (r *errorReporter) Handle(err error) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < errorInterval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if suppressed > 0 {
		r.log.Error("opentelemetry export", "err", err, "errors_since_last_report", suppressed)
		return
	}
	r.log.Error("opentelemetry export", "err", err)
}
