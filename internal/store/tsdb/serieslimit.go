package tsdb

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// reasonMaxSeries counts samples of new series refused for Options.MaxSeries (the
// tenant's tenants.limits.max_series) in loupe_metrics_rejected_total.
const reasonMaxSeries = tenant.KeyMaxSeries

// seriesLimit refuses samples that would create a series beyond Options.MaxSeries, as
// Mimir's per-tenant series limit: the series are those of the TSDB head (the last two
// to three hours), samples of a series it holds are always accepted. Creating a series is
// serialised (mu), so that concurrent appenders cannot go past the limit together; samples
// of known series do not take the lock. Every appender the store hands out goes through it
// (OTLP writes, remote write, scrapes, StatsD, rules, derived series).
type seriesLimit struct {
	max    int
	tenant string
	s      *Store
	mu     sync.Mutex
}

// limitSeries wraps an appender of db; without a limit it returns app.
func (s *Store) limitSeries(db *promtsdb.DB, app storage.Appender) storage.Appender {
	if s.series == nil {
		return app
	}
	gr, ok := app.(storage.GetRef)
	if !ok { // every TSDB appender has GetRef; without it the limit cannot tell new series
		return app
	}
	return &seriesLimitedAppender{Appender: app, gr: gr, l: s.series, db: db}
}

// seriesLimitError is a partial success of WriteMetrics some of whose points were refused
// for the series limit: receivers answer 429 naming the limit (the other points are stored).
type seriesLimitError struct {
	*store.PartialError
	limit error
}

func (e *seriesLimitError) Unwrap() []error { return []error{e.PartialError, e.limit} }

type seriesLimitedAppender struct {
	storage.Appender
	gr  storage.GetRef
	l   *seriesLimit
	db  *promtsdb.DB
	err error // the last refusal, for WriteMetrics' partial error
}

// admit calls app for a sample of series l: at once for a known series, under the
// creation lock for a new one, and not at all (a *tenant.LimitError) when the head holds
// MaxSeries series already. A non-zero ref came from an earlier append; if its series has
// left the head since (a scrape or StatsD cache outliving a head compaction), the head
// creates it again from l, and the PreCreation callback applies the limit there.
func (a *seriesLimitedAppender) admit(ref storage.SeriesRef, l labels.Labels, app func(storage.SeriesRef) (storage.SeriesRef, error)) (storage.SeriesRef, error) {
	if ref != 0 {
		r, err := app(ref)
		if _, ok := tenant.AsLimit(err); ok {
			a.err = err
		}
		return r, err
	}
	hash := l.Hash()
	if r, _ := a.gr.GetRef(l, hash); r != 0 {
		return app(r)
	}
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if r, _ := a.gr.GetRef(l, hash); r != 0 { // created meanwhile
		return app(r)
	}
	if err := a.l.refuse(a.db.Head().NumSeries()); err != nil {
		a.err = err
		return 0, err
	}
	return app(0)
}

// refuse counts and returns the error for a new series when the head holds n series,
// nil below the limit.
func (l *seriesLimit) refuse(n uint64) error {
	if n < uint64(l.max) {
		return nil
	}
	l.s.metrics.rejected.WithLabelValues(reasonMaxSeries).Inc()
	return tenant.NewLimitError(l.tenant, tenant.KeyMaxSeries, strconv.Itoa(l.max),
		fmt.Sprintf("%d series in the metric store; a new series is refused, samples of known series are accepted", n))
}

// PreCreation, the TSDB's own hook before it creates a series, is the backstop for the
// appends admit lets through with a non-zero ref. It does not take the creation lock
// (admit holds it while it calls the head), so concurrent re-creations from stale refs
// may pass the limit by the number of appenders. It allows everything while the store
// has no writable DB, which is while the head replays its WAL: series already
// acknowledged are never refused at a restart, even if max_series was lowered.
func (l *seriesLimit) PreCreation(labels.Labels) error {
	db := l.s.DB()
	if db == nil {
		return nil
	}
	return l.refuse(db.Head().NumSeries())
}

func (l *seriesLimit) PostCreation(labels.Labels)                          {}
func (l *seriesLimit) PostDeletion(map[chunks.HeadSeriesRef]labels.Labels) {}

func (a *seriesLimitedAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.admit(ref, l, func(r storage.SeriesRef) (storage.SeriesRef, error) { return a.Appender.Append(r, l, t, v) })
}

func (a *seriesLimitedAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.admit(ref, l, func(r storage.SeriesRef) (storage.SeriesRef, error) {
		return a.Appender.AppendHistogram(r, l, t, h, fh)
	})
}

func (a *seriesLimitedAppender) AppendCTZeroSample(ref storage.SeriesRef, l labels.Labels, t, ct int64) (storage.SeriesRef, error) {
	return a.admit(ref, l, func(r storage.SeriesRef) (storage.SeriesRef, error) {
		return a.Appender.AppendCTZeroSample(r, l, t, ct)
	})
}

func (a *seriesLimitedAppender) AppendHistogramCTZeroSample(ref storage.SeriesRef, l labels.Labels, t, ct int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.admit(ref, l, func(r storage.SeriesRef) (storage.SeriesRef, error) {
		return a.Appender.AppendHistogramCTZeroSample(r, l, t, ct, h, fh)
	})
}

// GetRef lets wrappers above find known series too.
func (a *seriesLimitedAppender) GetRef(l labels.Labels, hash uint64) (storage.SeriesRef, labels.Labels) {
	return a.gr.GetRef(l, hash)
}
