package prom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Remote write 2.0 is decoded and appended by Prometheus' handler, which answers 500 to
// every failed Commit. A commit refused because the disk is nearly full is retryable once
// space is freed, and remote write 1.0 and OTLP answer it with 503: so the 2.0 request
// carries a commitOutcome in its context, the Appendable records its Commit error there,
// and v2StatusWriter turns that 500 into 503.

type commitOutcomeKey struct{}

// commitOutcome is the last Commit error of one request's appenders.
type commitOutcome struct {
	mu    sync.Mutex
	err   error
	limit bool // an append was refused for a tenant's limit (max_series)
}

// appendFailed notes an append refused for a tenant's limit (max_series) and returns the
// error for Prometheus' handler. That handler rolls the whole request back on an append
// error it does not know (500), but skips a sample refused as out of bounds, stores the
// rest and answers 400 naming each skipped series: so a limit error is handed over as
// one (sampleRefused), and v2StatusWriter turns the 400 into 429, as remote write 1.0
// answers a request whose known series are stored and new ones refused.
func (o *commitOutcome) appendFailed(err error) error {
	if !errors.Is(err, tenant.ErrLimit) {
		return err
	}
	o.mu.Lock()
	o.limit = true
	o.mu.Unlock()
	return sampleRefused{err}
}

// sampleRefused is a tenant limit error that Prometheus' remote write 2.0 handler takes
// for a refused sample (storage.ErrOutOfBounds) and not for a failed request; its text
// is the limit's.
type sampleRefused struct{ error }

func (e sampleRefused) Is(target error) bool { return target == storage.ErrOutOfBounds }
func (e sampleRefused) Unwrap() error        { return e.error }

func (o *commitOutcome) limited() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.limit
}

func (o *commitOutcome) set(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

func (o *commitOutcome) diskFull() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	// A store too slow to take the commit (store.ErrBusy, ClickHouse's insert limits) is
	// retryable later too.
	return errors.Is(o.err, store.ErrDiskFull) || errors.Is(o.err, store.ErrBusy)
}

// withCommitOutcome returns r with a new commitOutcome in its context.
func withCommitOutcome(r *http.Request) (*http.Request, *commitOutcome) {
	o := &commitOutcome{}
	return r.WithContext(context.WithValue(r.Context(), commitOutcomeKey{}, o)), o
}

// commitRecording is an Appendable whose appenders record their Commit error in the
// context's commitOutcome, when there is one.
type commitRecording struct{ storage.Appendable }

func (c commitRecording) Appender(ctx context.Context) storage.Appender {
	app := c.Appendable.Appender(ctx)
	if o, ok := ctx.Value(commitOutcomeKey{}).(*commitOutcome); ok {
		return recordingAppender{Appender: app, o: o}
	}
	return app
}

type recordingAppender struct {
	storage.Appender
	o *commitOutcome
}

func (a recordingAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	r, err := a.Appender.Append(ref, l, t, v)
	return r, a.o.appendFailed(err)
}

func (a recordingAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	r, err := a.Appender.AppendHistogram(ref, l, t, h, fh)
	return r, a.o.appendFailed(err)
}

func (a recordingAppender) Commit() error {
	err := a.Appender.Commit()
	a.o.set(err)
	return err
}

// v2StatusWriter answers 503 instead of 500 when the request's commit failed on a full
// disk, and 429 instead of 400 when samples were refused for a tenant's limit; the message
// (naming the disk, or the limit and the refused series) is kept. The list of refused
// samples of a 400 or 429 is cut after maxReportedErrors lines, as remote write 1.0's is:
// a request of 10,000 new series over max_series would otherwise answer with all of them.
type v2StatusWriter struct {
	http.ResponseWriter
	o        *commitOutcome
	refusals bool // the answer lists refused samples, one a line
}

func (w *v2StatusWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusInternalServerError && w.o.diskFull():
		code = http.StatusServiceUnavailable
	case code == http.StatusBadRequest && w.o.limited():
		code = http.StatusTooManyRequests // the other samples are stored
	}
	w.refusals = code == http.StatusBadRequest || code == http.StatusTooManyRequests
	w.ResponseWriter.WriteHeader(code)
}

// Write cuts a list of refusals, which Prometheus' handler writes in one call
// (http.Error), after maxReportedErrors lines.
func (w *v2StatusWriter) Write(p []byte) (int, error) {
	if !w.refusals {
		return w.ResponseWriter.Write(p)
	}
	lines := strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")
	if len(lines) <= maxReportedErrors {
		return w.ResponseWriter.Write(p)
	}
	msg := strings.Join(lines[:maxReportedErrors], "\n") +
		fmt.Sprintf("\n(and %d more, not listed)\n", len(lines)-maxReportedErrors)
	if _, err := io.WriteString(w.ResponseWriter, msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *v2StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// quietLimitRefusals is the logger handler given to Prometheus' API, whose remote write
// 2.0 handler logs every refused sample at error level as "Out of order sample from remote
// write": it drops those whose error is a tenant limit (sampleRefused, whose text names
// the limit's key, tenants.limits.*: the record holds only the text), which are counted
// in loupe_metrics_rejected_total and named in the 429, as remote write 1.0 does, instead
// of a log line per new series of every request over max_series.
type quietLimitRefusals struct{ slog.Handler }

func (h quietLimitRefusals) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && r.Message == "Out of order sample from remote write" {
		limit := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), "tenants.limits.") {
				limit = true
				return false
			}
			return true
		})
		if limit {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietLimitRefusals) WithAttrs(as []slog.Attr) slog.Handler {
	return quietLimitRefusals{h.Handler.WithAttrs(as)}
}

func (h quietLimitRefusals) WithGroup(name string) slog.Handler {
	return quietLimitRefusals{h.Handler.WithGroup(name)}
}
