package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// admitChunk is how many samples an admitted appender reserves at a time: it cannot know
// in advance how many a scrape or a flush will append.
const admitChunk = 1024

// AdmittedAppendable wraps app so that its appenders take room from the metrics queue
// (AdmitMetrics) as they append, for callers that cannot be told to retry: a scrape, a
// StatsD flush. An appender reserves admitChunk samples at a time and waits for room, at
// most maxWait in all (counted from its first wait). When no room comes, Append and
// AppendHistogram return the *ThrottleError, and so do every later call on that appender,
// without waiting again: a scrape then fails with that error on its target, a flush counts
// the samples as refused. One such appender is counted once in
// loupe_ingest_throttled_total{path}. Commit and Rollback release the reservation.
func (p *Pipeline) AdmittedAppendable(app storage.Appendable, path string, maxWait time.Duration) storage.Appendable {
	return &admittedAppendable{next: app, p: p, path: path, maxWait: maxWait}
}

type admittedAppendable struct {
	next    storage.Appendable
	p       *Pipeline
	path    string
	maxWait time.Duration
}

func (a *admittedAppendable) Appender(ctx context.Context) storage.Appender {
	return &admittedAppender{Appender: a.next.Appender(ctx), a: a, ctx: ctx}
}

// admittedAppender is used by one goroutine at a time, as every storage.Appender.
type admittedAppender struct {
	storage.Appender
	a   *admittedAppendable
	ctx context.Context

	held, used int
	deadline   time.Time // of every wait, set at the first
	refused    error     // once refused, every later append fails with it
}

// take claims room for one sample, reserving a new chunk when the held one is used up.
func (x *admittedAppender) take() error {
	if x.refused != nil {
		return x.refused
	}
	if x.used < x.held {
		x.used++
		return nil
	}
	if x.deadline.IsZero() {
		x.deadline = time.Now().Add(x.a.maxWait)
	}
	ctx, cancel := context.WithDeadline(x.ctx, x.deadline)
	defer cancel()
	s := x.a.p.metrics
	if err := s.admit(ctx, admitChunk, x.held, true); err != nil {
		s.m.throttled.WithLabelValues(x.a.path).Inc()
		x.refused = fmt.Errorf("%s: metric ingest capacity: %w", x.a.path, err)
		return x.refused
	}
	x.held += admitChunk
	x.used++
	return nil
}

func (x *admittedAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if err := x.take(); err != nil {
		return 0, err
	}
	if err := x.admitTenant(l); err != nil {
		return 0, err
	}
	return x.Appender.Append(ref, l, t, v)
}

func (x *admittedAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if err := x.take(); err != nil {
		return 0, err
	}
	if err := x.admitTenant(l); err != nil {
		return 0, err
	}
	return x.Appender.AppendHistogram(ref, l, t, h, fh)
}

// admitTenant takes one sample from the tenant's limits (tenantlimit.go). A refused
// sample is not appended; the appender goes on with the next.
func (x *admittedAppender) admitTenant(l labels.Labels) error {
	lim := x.a.p.cfg.Tenant
	if lim == nil {
		return nil
	}
	var bytes int64
	if lim.CountsBytes() {
		bytes = sampleBytes(l)
	}
	if err := admitTenant(lim, x.a.p.metrics.m, x.a.p.metrics.signal, 1, bytes); err != nil {
		return fmt.Errorf("%s: %w", x.a.path, err)
	}
	return nil
}

func (x *admittedAppender) Commit() error {
	defer x.releaseAll()
	return x.Appender.Commit()
}

func (x *admittedAppender) Rollback() error {
	defer x.releaseAll()
	return x.Appender.Rollback()
}

func (x *admittedAppender) releaseAll() {
	if x.held > 0 {
		x.a.p.metrics.release(x.held)
	}
	x.held, x.used = 0, 0
}
