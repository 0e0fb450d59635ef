// Package derived writes metric series derived from error events and job runs into the
// metrics store as they are recorded, so that ordinary PromQL rules can alert on them
// ("a new issue appeared", "job nightly failed", "this run took 50% longer than the last
// five"; docs/alerting.md, "Rules on errors and job runs").
//
// The writers decorate the stores' writers (errtrack.Writer, runs.Writer): they learn what
// is new from the store before the write and append the samples after it commits, so a
// sample is only written for data that was acknowledged. The samples go through
// storage.Appendable, the metrics store's appender (the TSDB, internal/store/tsdb).
//
// Counters live in memory and start from zero with the process: after a restart their
// series drop to 0 and go on counting, which rate() and increase() read as a counter reset,
// as with any restarted exporter. Each new counter series (in this process) is written a
// 0 one millisecond before its first count, so that increase() sees the very first event.
package derived

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
)

// overflow replaces a label value once a writer holds its maximum number of series, so
// that many distinct job names or services cannot grow the metrics store without bound.
const overflow = "_other"

// series is one derived series and what appending to it needs. Owned by one writer and
// guarded by its mutex.
type series struct {
	lset   labels.Labels
	ref    storage.SeriesRef
	n      float64 // a counter's value
	lastMs int64   // last timestamp written, so that counters never repeat one
	fresh  bool    // no sample written yet by this process
}

// sample is one value to append.
type sample struct {
	s *series
	t int64 // ms
	v float64
}

// sink appends samples to the metrics store.
type sink struct {
	app    storage.Appendable
	logger *slog.Logger
	failed prometheus.Counter
}

func newSink(app storage.Appendable, name string, logger *slog.Logger, reg prometheus.Registerer) sink {
	return sink{app: app, logger: logger, failed: selfmetrics.Register(reg, logger, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loupe_derived_" + name + "_samples_failed_total",
		Help: "Derived " + name + " samples (docs/alerting.md) the metrics store refused (too old, duplicate timestamp) or that were lost with a failed commit.",
	}))}
}

// counterSamples adds n to c at ms and returns the samples to append: the new value at a
// timestamp after the last one written, preceded by a 0 when c is fresh.
func counterSamples(c *series, ms int64, n float64) []sample {
	var out []sample
	t := max(ms, c.lastMs+1)
	if c.fresh {
		out = append(out, sample{c, t - 1, 0})
		c.fresh = false
	}
	c.n += n
	c.lastMs = t
	return append(out, sample{c, t, c.n})
}

// write appends samples in one commit. A sample the store refuses (out of its time window,
// a second value at one timestamp) is skipped and counted; the others are written.
func (k sink) write(ctx context.Context, samples []sample) {
	if len(samples) == 0 || k.app == nil {
		return
	}
	app := k.app.Appender(context.WithoutCancel(ctx))
	for _, s := range samples {
		ref, err := app.Append(s.s.ref, s.s.lset, s.t, s.v)
		if err != nil {
			k.failed.Inc()
			k.logger.Warn("derived sample not written", "series", s.s.lset.String(), "t", time.UnixMilli(s.t).UTC(), "err", err)
			continue
		}
		s.s.ref = ref
	}
	if err := app.Commit(); err != nil {
		k.failed.Add(float64(len(samples)))
		k.logger.Warn("derived samples not written", "err", fmt.Errorf("commit: %w", err))
	}
}

// capped returns the series for key from m, creating it with mk when there is room: at
// max series, a new key is replaced by over (the same key with overflow values).
func capped[K comparable](m map[K]*series, key, over K, maxN int, mk func(K) labels.Labels) *series {
	if s, ok := m[key]; ok {
		return s
	}
	if len(m) >= maxN {
		key = over
		if s, ok := m[key]; ok {
			return s
		}
	}
	s := &series{lset: mk(key), fresh: true}
	m[key] = s
	return s
}

// lset is a metric name and label pairs, without the labels whose value is empty (which
// PromQL treats as absent anyway).
func lset(name string, kv ...string) labels.Labels {
	b := labels.NewScratchBuilder(len(kv)/2 + 1)
	b.Add(labels.MetricName, name)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			b.Add(kv[i], kv[i+1])
		}
	}
	b.Sort()
	return b.Labels()
}
