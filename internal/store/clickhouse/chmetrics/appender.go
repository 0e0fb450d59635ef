package chmetrics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
)

// Appender implements storage.Appendable. The samples appended are held in memory until
// Commit, which writes the new series rows and then the samples, each in one INSERT.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	return &appender{s: s, ctx: ctx, series: map[uint64]labels.Labels{}}
}

type sample struct {
	id uint64
	t  int64
	v  float64
}

type appender struct {
	s         *Store
	ctx       context.Context
	series    map[uint64]labels.Labels // every series appended to, by id
	samples   []sample
	exemplars []exemplarRow
}

// Append implements storage.Appender. The reference returned is the series id; a
// caller passing it back must pass the labels too (Prometheus' scrape loop, rules and
// remote write handler all do).
func (a *appender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if l.IsEmpty() {
		return 0, fmt.Errorf("empty label set: %w", promtsdb.ErrInvalidSample)
	}
	id := labels.StableHash(l)
	if _, ok := a.series[id]; !ok {
		if name, dup := l.HasDuplicateLabelNames(); dup {
			return 0, fmt.Errorf("label name %q repeated in %s: %w", name, l, promtsdb.ErrInvalidSample)
		}
		a.series[id] = l.Copy()
	}
	a.samples = append(a.samples, sample{id: id, t: t, v: v})
	return storage.SeriesRef(id), nil
}

// Commit writes the series rows this process has not written yet (one per series and
// day), then the samples. A series row without samples (the samples' INSERT failed) is
// harmless: queries find the series and no samples.
func (a *appender) Commit() error {
	defer a.reset()
	if len(a.samples) == 0 && len(a.exemplars) == 0 {
		return nil
	}
	// Sorted by series and time, copies of one sample within the batch are dropped here
	// (the first kept); copies across batches are dropped by reads, using ver.
	slices.SortStableFunc(a.samples, func(x, y sample) int {
		return cmp.Or(cmp.Compare(x.id, y.id), cmp.Compare(x.t, y.t))
	})
	var newSeries []seriesDay
	rows := make([][]any, 0, len(a.samples))
	last := sample{t: math.MinInt64}
	var lastSD seriesDay
	var metric string // of the series of last
	a.s.mu.Lock()
	ver := max(a.s.ver+1, uint64(time.Now().UnixNano()))
	a.s.ver = ver
	for i, smp := range a.samples {
		if i > 0 && smp.id == last.id && smp.t == last.t {
			continue
		}
		if i == 0 || smp.id != last.id {
			metric = a.series[smp.id].Get(labels.MetricName)
		}
		last = smp
		// Samples are sorted, so the samples of one series and day are adjacent.
		if sd := (seriesDay{smp.id, int32(dayOf(smp.t).Unix() / (24 * 3600))}); i == 0 || sd != lastSD {
			lastSD = sd
			if !a.s.isKnown(sd) {
				newSeries = append(newSeries, sd)
			}
		}
		stale := value.IsStaleNaN(smp.v)
		v := smp.v
		if stale {
			v = math.NaN()
		}
		rows = append(rows, []any{a.s.opts.Tenant, metric, smp.id, smp.t, v, stale, ver})
	}
	// An exemplar's series has a row for the exemplar's day too.
	for _, ex := range a.exemplars {
		sd := seriesDay{ex.id, int32(dayOf(ex.t).Unix() / (24 * 3600))}
		if !a.s.isKnown(sd) && !slices.Contains(newSeries, sd) {
			newSeries = append(newSeries, sd)
		}
	}
	a.s.mu.Unlock()

	if len(newSeries) > 0 {
		srows := make([][]any, 0, len(newSeries))
		for _, sd := range newSeries {
			l := a.series[sd.id]
			m := make(map[string]string, l.Len())
			l.Range(func(lb labels.Label) {
				if lb.Name != labels.MetricName {
					m[lb.Name] = lb.Value
				}
			})
			day := time.Unix(int64(sd.day)*24*3600, 0).UTC().Format(time.DateOnly)
			srows = append(srows, []any{a.s.opts.Tenant, day, l.Get(labels.MetricName), sd.id, m})
		}
		if err := a.s.conn.Insert(a.ctx, seriesTable, []string{"tenant", "day", "metric", "series_id", "labels"}, srows); err != nil {
			return fmt.Errorf("insert metric series: %w", err)
		}
	}
	if len(rows) > 0 {
		if err := a.s.conn.Insert(a.ctx, samplesTable, []string{"tenant", "metric", "series_id", "ts_ms", "value", "stale", "ver"}, rows); err != nil {
			return fmt.Errorf("insert metric samples: %w", err)
		}
	}
	if len(a.exemplars) > 0 {
		erows := make([][]any, 0, len(a.exemplars))
		for _, ex := range a.exemplars {
			erows = append(erows, []any{a.s.opts.Tenant, ex.id, ex.t, ex.v, ex.lbl})
		}
		if err := a.s.conn.Insert(a.ctx, exemplarsTable, []string{"tenant", "series_id", "ts_ms", "value", "labels"}, erows); err != nil {
			return fmt.Errorf("insert metric exemplars: %w", err)
		}
	}
	a.s.markKnown(newSeries)
	return nil
}

func (a *appender) Rollback() error {
	a.reset()
	return nil
}

func (a *appender) reset() {
	a.samples = a.samples[:0]
	a.exemplars = a.exemplars[:0]
	clear(a.series)
}

func (a *appender) SetOptions(*storage.AppendOptions) {}

// AppendHistogram implements storage.HistogramAppender: native histograms are refused.
func (a *appender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errNativeHistograms
}

func (a *appender) AppendHistogramCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errNativeHistograms
}

// UpdateMetadata implements storage.MetadataUpdater: metadata is not stored (the series
// keep working; /api/v1/metadata has no entry for them).
func (a *appender) UpdateMetadata(ref storage.SeriesRef, _ labels.Labels, _ metadata.Metadata) (storage.SeriesRef, error) {
	return ref, nil
}

// AppendCTZeroSample implements storage.CreatedTimestampAppender: a zero sample at the
// created timestamp, as the TSDB appends it.
func (a *appender) AppendCTZeroSample(ref storage.SeriesRef, l labels.Labels, t, ct int64) (storage.SeriesRef, error) {
	if ct >= t {
		return 0, storage.ErrCTNewerThanSample
	}
	return a.Append(ref, l, ct, 0)
}

// isKnown reports whether this process wrote the series row already. s.mu is held.
func (s *Store) isKnown(sd seriesDay) bool {
	_, ok := s.known[sd]
	return ok
}

func (s *Store) markKnown(sds []seriesDay) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.known)+len(sds) > s.opts.MaxKnownSeries {
		clear(s.known)
	}
	for _, sd := range sds {
		s.known[sd] = struct{}{}
	}
}
