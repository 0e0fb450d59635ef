package errtrack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// EventsMetric is the counter of error events written into the metrics store, one series
// per issue, service, project, environment, release and level (docs/errors.md).
const EventsMetric = "loupe_error_events_total"

// overflowIssue replaces issue_id once MaxSeries series exist, so that a flood of new
// issues cannot grow the metrics store without bound.
const overflowIssue = "_other"

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	Scrub ScrubOptions
	// Metrics receives the loupe_error_events_total samples; nil writes none.
	Metrics storage.Appendable
	// MaxSeries caps the distinct loupe_error_events_total series (default 10,000); events
	// of further label sets count under issue_id="_other".
	MaxSeries int
	// MaxFuture is how far in the future (by the server's clock) an event's timestamp may
	// be before it is replaced with the time it was received (default 1 minute), as Sentry
	// does with clocks that are off.
	MaxFuture time.Duration
	// Linger is how long a write waits for more concurrent Record calls to join it
	// (write); default 2 ms, negative for none.
	Linger time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Recorder is where every source hands its error events: the Sentry ingest and the
// OpenTelemetry tap call Record. It normalises, scrubs and groups the events, writes them
// to the store, then counts them in the metrics store. Safe for concurrent use.
type Recorder struct {
	w        Writer
	scrub    *Scrubber
	group    Grouper
	app      storage.Appendable
	logger   *slog.Logger
	maxSer   int
	maxFut   time.Duration
	now      func() time.Time
	recorded *prometheus.CounterVec
	failed   prometheus.Counter

	mu     sync.Mutex // guards series and each series' count
	series map[seriesKey]*counter

	// Group commit (write): callers queue their events; one leads and writes them all.
	linger  time.Duration
	queueMu sync.Mutex
	queue   []*pendingWrite
	writing bool // a leader is writing
	// lastCalls is how many Record calls the last write carried; waitFor, while a leader
	// lingers, how many queued calls make it stop waiting, which it learns on full.
	lastCalls, waitFor int
	full               chan struct{}
}

// pendingWrite is one Record call's events waiting to be written.
type pendingWrite struct {
	events []Event
	done   chan writeResult // the result of the write that carried them, or the lead
}

type writeResult struct {
	err  error
	lead bool // the receiver writes the queue next
}

type seriesKey struct {
	issue, service, project, environment, release, level string
}

type counter struct {
	lset   labels.Labels
	ref    storage.SeriesRef
	n      float64
	lastMs int64
}

// NewRecorder returns a Recorder writing to w. reg may be nil.
func NewRecorder(w Writer, opts RecorderOptions, logger *slog.Logger, reg prometheus.Registerer) (*Recorder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 10_000
	}
	if opts.MaxFuture <= 0 {
		opts.MaxFuture = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Linger == 0 {
		opts.Linger = 2 * time.Millisecond
	}
	r := &Recorder{
		w: w, scrub: NewScrubber(opts.Scrub), app: opts.Metrics, logger: logger,
		maxSer: opts.MaxSeries, maxFut: opts.MaxFuture, now: opts.Now,
		series: map[seriesKey]*counter{}, linger: opts.Linger, full: make(chan struct{}, 1),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_errtrack_events_recorded_total",
			Help: "Error events handed to the recorder and committed, by source (duplicates included).",
		}, []string{"source"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_errtrack_metric_append_failures_total",
			Help: "Batches whose loupe_error_events_total samples could not be written to the metrics store.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.recorded, r.failed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register errtrack metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Record normalises, scrubs, groups and stores events, and counts them in the metrics
// store; on nil they are committed (see Writer). It takes ownership of events and their
// maps (they are changed in place). A failure to write the counter samples is logged,
// not returned: the events are stored.
func (r *Recorder) Record(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	now := r.now()
	for i := range events {
		ev := &events[i]
		r.normalize(ev, now)
		r.scrub.Scrub(ev)
		r.group.Group(ev)
	}
	if err := r.write(ctx, events); err != nil {
		return fmt.Errorf("record error events: %w", err)
	}
	for i := range events {
		r.recorded.WithLabelValues(events[i].Source).Inc()
	}
	return nil
}

// write stores events together with those of concurrent Record calls: a store write
// costs far more than an event (DuckDB: an fsync of its event log, and milliseconds of
// CPU per transaction), and the Sentry SDKs send one event per request. Callers queue their events; one of them
// at a time leads: it takes everything queued, writes it in one WriteEvents call, gives
// each caller the result, and hands the lead to the first caller queued meanwhile (or
// ends it when none is). So every caller writes at most one batch, and callers whose
// events another wrote return without waiting for a turn. A batch commits or fails as a
// whole, and its error goes to every caller whose events it carried.
//
// When the last write carried several calls, the leader first waits up to linger for as
// many to be queued: the callers it just answered are sending their next events, and
// without the wait every other write would carry only those that arrived during the last
// one (BenchmarkRecordConcurrent, 32 callers, when each write was a DuckDB transaction:
// 17 events a write without, 29 with 2 ms, and ~20-40% more events per CPU-second). A
// lone caller never waits.
func (r *Recorder) write(ctx context.Context, events []Event) error {
	p := &pendingWrite{events: events, done: make(chan writeResult, 1)}
	r.queueMu.Lock()
	r.queue = append(r.queue, p)
	if r.waitFor > 0 && len(r.queue) >= r.waitFor {
		r.waitFor = 0
		r.full <- struct{}{} // buffered, and only one send per wait
	}
	if r.writing {
		r.queueMu.Unlock()
		res := <-p.done
		if !res.lead {
			return res.err
		}
		r.queueMu.Lock() // p now leads; its events are still queued
	}
	r.writing = true
	if r.linger > 0 && r.lastCalls > 1 && len(r.queue) < r.lastCalls {
		r.waitFor = r.lastCalls
		r.queueMu.Unlock()
		t := time.NewTimer(r.linger)
		select {
		case <-r.full:
		case <-t.C:
		}
		t.Stop()
		r.queueMu.Lock()
		if r.waitFor == 0 && len(r.full) > 0 {
			<-r.full // sent after the timer fired
		}
		r.waitFor = 0
	}
	batch := r.queue
	r.queue = nil
	r.lastCalls = len(batch)
	r.queueMu.Unlock()

	all := events
	if len(batch) > 1 {
		all = make([]Event, 0, len(batch)*len(events))
		for _, q := range batch {
			all = append(all, q.events...)
		}
	}
	// Other callers' events ride on this write: this caller going away must not fail them.
	ctx = context.WithoutCancel(ctx)
	err := r.w.WriteEvents(ctx, all)
	if err == nil && r.app != nil {
		// Counted once per write, not per call: a metrics store commit per call was ~3%
		// of the server's CPU in the errors bench scenario.
		if err := r.count(ctx, all, r.now()); err != nil {
			r.failed.Inc()
			r.logger.Warn("error event counters not written to the metrics store", "err", err)
		}
	}
	for _, q := range batch {
		if q != p {
			q.done <- writeResult{err: err}
		}
	}
	r.queueMu.Lock()
	if len(r.queue) > 0 {
		r.queue[0].done <- writeResult{lead: true}
	} else {
		r.writing = false
	}
	r.queueMu.Unlock()
	return err
}

// normalize fills what the store and grouping need: an event id (lower-case hex without
// dashes, a new one when missing), the received time, a timestamp not in the future, a
// level.
func (r *Recorder) normalize(ev *Event, now time.Time) {
	ev.EventID = strings.ToLower(strings.ReplaceAll(ev.EventID, "-", ""))
	if ev.EventID == "" {
		ev.EventID = NewEventID()
	}
	if ev.Received.IsZero() {
		ev.Received = now
	}
	if ev.Timestamp.IsZero() || ev.Timestamp.After(ev.Received.Add(r.maxFut)) {
		ev.Timestamp = ev.Received
	}
	if ev.Level == "" {
		ev.Level = "error"
	}
}

// NewEventID returns a random event id (32 lower-case hex digits).
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// count adds the events to their loupe_error_events_total series and appends the new
// totals at now. Counts restart from zero with the process, which PromQL's rate() and
// increase() read as a counter reset. Duplicate events (retries) are counted here, as
// the store does not tell which events were new.
func (r *Recorder) count(ctx context.Context, events []Event, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	touched := map[*counter]bool{}
	for i := range events {
		ev := &events[i]
		k := seriesKey{ev.GroupID, ev.Service, ev.Project, ev.Environment, ev.Release, ev.Level}
		c, ok := r.series[k]
		if !ok && len(r.series) >= r.maxSer {
			k.issue = overflowIssue
			c, ok = r.series[k]
		}
		if !ok {
			c = &counter{lset: labels.FromStrings(labels.MetricName, EventsMetric,
				"issue_id", k.issue, "service", k.service, "project", k.project,
				"environment", k.environment, "release", k.release, "level", k.level)}
			r.series[k] = c
		}
		c.n++
		touched[c] = true
	}
	app := r.app.Appender(ctx)
	ms := now.UnixMilli()
	for c := range touched {
		t := max(ms, c.lastMs+1) // one sample per millisecond and series: never a duplicate timestamp
		ref, err := app.Append(c.ref, c.lset, t, c.n)
		if err != nil {
			_ = app.Rollback()
			return fmt.Errorf("append %s: %w", c.lset, err)
		}
		c.ref, c.lastMs = ref, t
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit error counters: %w", err)
	}
	return nil
}
