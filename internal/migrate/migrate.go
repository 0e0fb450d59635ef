// Package migrate copies what one backend stores into another, signal by signal, through
// the store interfaces both backends implement: `loupe migrate` uses it to move an
// embedded data directory (DuckDB + Prometheus' TSDB) into ClickHouse (docs/scale-out.md,
// "Moving up"). Going through the interfaces rather than the files keeps it independent
// of either backend's layout, at the cost of what the read interfaces do not return
// (listed in the docs: structured log bodies become their JSON text, exemplars and
// metric metadata are not read).
package migrate

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
)

// Source is what is read. A nil field is a signal the source does not have.
type Source struct {
	Logs    store.LogReader
	Spans   store.TraceReader
	Metrics storage.Queryable
	Runs    runs.Reader
	// Dashboards are read only (List, Versions, GetVersion).
	Dashboards dashboards.Store
	Errors     errtrack.Reader
	// Profiles are read whole: ProfileReader's merged stacks would lose each profile's
	// time, duration, period and spans.
	Profiles store.ProfileExporter
}

// Destination is where it is written. Each signal is also read, to tell whether the
// destination holds some already.
type Destination struct {
	Logs interface {
		store.LogWriter
		store.LogReader
	}
	Spans interface {
		store.SpanWriter
		store.TraceReader
	}
	Metrics interface {
		storage.Appendable
		storage.Queryable
	}
	Runs       runs.Store
	Dashboards dashboards.Store
	Errors     errtrack.Store
	Profiles   interface {
		store.ProfileWriter
		store.ProfileReader
	}
}

// Options tune a copy.
type Options struct {
	// Force copies into a destination that already holds data of a signal. Logs,
	// spans and profiles copied twice are stored twice; metric samples and runs are not (their
	// stores keep one sample per series and time, one run per id, one error event per
	// id), and a dashboard whose uid is there already is left as it is.
	Force bool
	// Progress receives one line per page copied and one per signal done; nil discards.
	Progress io.Writer
	// LogPage, TracePage, SamplePage, RunPage and ProfilePage are the page sizes
	// (records, traces, samples, runs and profiles per write); zero takes the defaults
	// below.
	LogPage, TracePage, SamplePage, RunPage, ProfilePage int
}

// Default page sizes: the readers' caps for logs (10,000) and runs (1,000), a batch of
// traces per write, and samples per metrics commit (one INSERT each on ClickHouse).
const (
	defaultLogPage    = 10_000
	defaultTracePage  = 200
	defaultSamplePage = 50_000
	defaultRunPage    = runs.MaxLimit
	// Profiles: a few thousand samples each, written in one transaction per batch.
	defaultProfilePage = 1_000
)

// Counts is what one signal's copy did.
type Counts struct {
	Signal store.Signal
	// Copied counts records (logs), spans, samples (metrics), runs, dashboards, error
	// events or profiles written.
	Copied int64
	// Traces counts the traces whose spans were copied (spans only).
	Traces int64
	// Series counts metric series read (metrics) or issues copied (errors).
	Series int64
	// Samples counts the samples of the profiles copied (profiles only).
	Samples int64
	// Skipped counts what the destination cannot take, with the reason in Note: native
	// histogram samples, refused by the ClickHouse metric store.
	Skipped int64
	Note    string
	Elapsed time.Duration
}

func (c Counts) String() string {
	s := fmt.Sprintf("%s: %d copied", c.Signal, c.Copied)
	switch c.Signal {
	case store.SignalSpans:
		s += fmt.Sprintf(" (%d traces)", c.Traces)
	case store.SignalMetrics:
		s = fmt.Sprintf("%s: %d samples copied (%d series)", c.Signal, c.Copied, c.Series)
	case store.SignalErrors:
		s = fmt.Sprintf("%s: %d events copied (%d issues)", c.Signal, c.Copied, c.Series)
	case store.SignalProfiles:
		s += fmt.Sprintf(" (%d samples)", c.Samples)
	}
	if c.Skipped > 0 {
		s += fmt.Sprintf(", %d not copied: %s", c.Skipped, c.Note)
	}
	return s + fmt.Sprintf(" in %s", c.Elapsed.Round(time.Millisecond))
}

// Error is a failed copy: which signal, where in it, and why.
type Error struct {
	Signal store.Signal
	// Position says where the copy stopped: the page and the time range of what it held.
	Position string
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("migrate %s: %s: %v", e.Signal, e.Position, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Run copies every signal that both src and dst have, in the order logs, spans, metrics,
// runs, dashboards, errors, profiles. Unless opts.Force, it first checks that the destination holds none of them and
// refuses otherwise, before copying anything. It returns the counts of the signals
// copied, and on failure an *Error naming the signal and position; the signals before it
// are copied whole, the failed one in part (rerun with Force, see Options.Force).
func Run(ctx context.Context, src Source, dst Destination, opts Options) ([]Counts, error) {
	opts.defaults()
	type step struct {
		signal store.Signal
		have   bool
		empty  func(context.Context) (bool, error)
		copy   func(context.Context, *Counts) error
	}
	steps := []step{
		{store.SignalLogs, src.Logs != nil && dst.Logs != nil,
			func(ctx context.Context) (bool, error) { return logsEmpty(ctx, dst.Logs) },
			func(ctx context.Context, c *Counts) error { return copyLogs(ctx, src.Logs, dst.Logs, opts, c) }},
		{store.SignalSpans, src.Spans != nil && dst.Spans != nil,
			func(ctx context.Context) (bool, error) { return spansEmpty(ctx, dst.Spans) },
			func(ctx context.Context, c *Counts) error { return copySpans(ctx, src.Spans, dst.Spans, opts, c) }},
		{store.SignalMetrics, src.Metrics != nil && dst.Metrics != nil,
			func(ctx context.Context) (bool, error) { return metricsEmpty(ctx, dst.Metrics) },
			func(ctx context.Context, c *Counts) error { return copyMetrics(ctx, src.Metrics, dst.Metrics, opts, c) }},
		{store.SignalRuns, src.Runs != nil && dst.Runs != nil,
			func(ctx context.Context) (bool, error) { return runsEmpty(ctx, dst.Runs) },
			func(ctx context.Context, c *Counts) error { return copyRuns(ctx, src.Runs, dst.Runs, opts, c) }},
		{SignalDashboards, src.Dashboards != nil && dst.Dashboards != nil,
			func(ctx context.Context) (bool, error) { return dashboardsEmpty(ctx, dst.Dashboards) },
			func(ctx context.Context, c *Counts) error {
				return copyDashboards(ctx, src.Dashboards, dst.Dashboards, opts, c)
			}},
		{store.SignalErrors, src.Errors != nil && dst.Errors != nil,
			func(ctx context.Context) (bool, error) { return errorsEmpty(ctx, dst.Errors) },
			func(ctx context.Context, c *Counts) error { return copyErrors(ctx, src.Errors, dst.Errors, opts, c) }},
		{store.SignalProfiles, src.Profiles != nil && dst.Profiles != nil,
			func(ctx context.Context) (bool, error) { return profilesEmpty(ctx, dst.Profiles) },
			func(ctx context.Context, c *Counts) error {
				return copyProfiles(ctx, src.Profiles, dst.Profiles, opts, c)
			}},
	}
	if !opts.Force {
		for _, st := range steps {
			if !st.have {
				continue
			}
			empty, err := st.empty(ctx)
			if err != nil {
				return nil, &Error{Signal: st.signal, Position: "checking the destination", Err: err}
			}
			if !empty {
				return nil, &Error{Signal: st.signal, Position: "checking the destination",
					Err: fmt.Errorf("the destination already holds %s: nothing copied (--force copies anyway; logs, spans and profiles would then be stored twice)", st.signal)}
			}
		}
	}
	var done []Counts
	for _, st := range steps {
		if !st.have {
			continue
		}
		c := Counts{Signal: st.signal}
		began := time.Now()
		err := st.copy(ctx, &c)
		c.Elapsed = time.Since(began)
		if err != nil {
			return done, err
		}
		done = append(done, c)
		fmt.Fprintln(opts.Progress, c)
	}
	return done, nil
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.LogPage, defaultLogPage)
	def(&o.TracePage, defaultTracePage)
	def(&o.SamplePage, defaultSamplePage)
	def(&o.RunPage, defaultRunPage)
	def(&o.ProfilePage, defaultProfilePage)
}

// span formats a page's time range, newest first as the pages are read.
func span(newest, oldest time.Time) string {
	return newest.UTC().Format(time.RFC3339Nano) + " .. " + oldest.UTC().Format(time.RFC3339Nano)
}

// logsEmpty reports whether r holds no log record at all.
func logsEmpty(ctx context.Context, r store.LogReader) (bool, error) {
	for _, err := range r.QueryLogs(ctx, store.LogQuery{Limit: 1}) {
		return false, err
	}
	return true, nil
}

func spansEmpty(ctx context.Context, r store.TraceReader) (bool, error) {
	for _, err := range r.FindTraces(ctx, store.TraceQuery{Limit: 1}) {
		return false, err
	}
	return true, nil
}

// allSeries selects every series: Prometheus wants one matcher that does not match "".
var allSeries = labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")

func metricsEmpty(ctx context.Context, q storage.Queryable) (bool, error) {
	qr, err := q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return false, err
	}
	defer qr.Close()
	ss := qr.Select(ctx, false, &storage.SelectHints{Start: math.MinInt64, End: math.MaxInt64, Limit: 1, Func: "series"}, allSeries)
	if ss.Next() {
		return false, nil
	}
	return true, ss.Err()
}

func runsEmpty(ctx context.Context, r runs.Reader) (bool, error) {
	p, err := r.ListRuns(ctx, runs.Query{Limit: 1})
	return len(p.Runs) == 0, err
}
