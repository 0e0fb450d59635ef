package statsd

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// reasonTypeConflict is a line whose name was first seen with another kind.
const reasonTypeConflict = "type_conflict"

// family kinds: timers, histograms and distributions all become Prometheus histograms.
func familyKind(k Kind) Kind {
	switch k {
	case Timer, Distribution:
		return Histogram
	}
	return k
}

// series is the state of one name and label set between flushes. Counters and histograms
// are cumulative from the first line the receiver saw; gauges keep their last value; sets
// count the distinct members seen since the previous flush.
type series struct {
	kind    Kind // Counter, Gauge, Histogram or Set
	out     []labels.Labels
	refs    []storage.SeriesRef
	updated time.Time

	value   float64   // counter total, gauge value
	counts  []float64 // histogram: per bucket (not cumulative), then +Inf
	sum     float64
	members map[string]struct{}
}

// aggregator holds every series in memory. Safe for concurrent use.
type aggregator struct {
	buckets     []float64
	constLabels map[string]string
	ttl         time.Duration

	mu       sync.Mutex
	series   map[string]*series // by name and raw tags
	byLabels map[string]*series // by output labels, so tags that escape alike share a series
	families map[string]Kind    // escaped base name -> kind
	meta     map[string]metadata.Metadata
	keyBuf   []byte
}

func newAggregator(buckets []float64, constLabels map[string]string, ttl time.Duration) *aggregator {
	return &aggregator{
		buckets:     buckets,
		constLabels: constLabels,
		ttl:         ttl,
		series:      map[string]*series{},
		byLabels:    map[string]*series{},
		families:    map[string]Kind{},
		meta:        map[string]metadata.Metadata{},
	}
}

// add records one metric line. It returns a reason when the line conflicts with the kind
// its name was first seen with.
func (a *aggregator) add(m *Metric, now time.Time) (reason string) {
	name := EscapeName(m.Name)
	kind := familyKind(m.Kind)
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.families[name]; ok && k != kind {
		return reasonTypeConflict
	}
	a.keyBuf = appendKey(a.keyBuf[:0], name, m.Tags)
	s, ok := a.series[string(a.keyBuf)]
	if !ok {
		if _, ok := a.families[name]; !ok {
			a.families[name] = kind
			a.addMetadata(name, kind)
		}
		s = a.newSeries(name, kind, m.Tags)
		if same, ok := a.byLabels[s.out[0].String()]; ok {
			s = same
		} else {
			a.byLabels[s.out[0].String()] = s
		}
		a.series[string(a.keyBuf)] = s
	}
	s.updated = now
	weight := 1 / m.SampleRate
	switch m.Kind {
	case Counter:
		for _, v := range m.Values {
			s.value += v * weight
		}
	case Gauge:
		for _, v := range m.Values {
			if m.Delta {
				s.value += v
			} else {
				s.value = v
			}
		}
	case Timer, Histogram, Distribution:
		for _, v := range m.Values {
			if m.Kind == Timer {
				v /= 1000 // milliseconds to seconds, as statsd_exporter does
			}
			i, _ := slices.BinarySearch(a.buckets, v) // first bucket with le >= v
			s.counts[i] += weight
			s.sum += v * weight
		}
	case Set:
		if len(s.members) < maxSetMembers {
			s.members[m.SetValue] = struct{}{}
		}
	}
	return ""
}

// maxSetMembers bounds the memory of one set per flush interval.
const maxSetMembers = 1 << 20

func (a *aggregator) addMetadata(name string, kind Kind) {
	switch kind {
	case Counter:
		a.meta[counterName(name)] = metadata.Metadata{Type: model.MetricTypeCounter, Help: "StatsD counter " + name}
	case Gauge:
		a.meta[name] = metadata.Metadata{Type: model.MetricTypeGauge, Help: "StatsD gauge " + name}
	case Set:
		a.meta[name] = metadata.Metadata{Type: model.MetricTypeGauge, Help: "StatsD set " + name + ": distinct values per flush interval"}
	case Histogram:
		a.meta[name] = metadata.Metadata{Type: model.MetricTypeHistogram, Help: "StatsD timer or histogram " + name}
	}
}

func (a *aggregator) newSeries(name string, kind Kind, tags []Tag) *series {
	base := a.labels(tags, kind)
	s := &series{kind: kind}
	with := func(metric string, extra ...string) labels.Labels {
		b := labels.NewBuilder(base)
		b.Set(labels.MetricName, metric)
		for i := 0; i+1 < len(extra); i += 2 {
			b.Set(extra[i], extra[i+1])
		}
		return b.Labels()
	}
	switch kind {
	case Counter:
		s.out = []labels.Labels{with(counterName(name))}
	case Gauge:
		s.out = []labels.Labels{with(name)}
	case Set:
		s.out = []labels.Labels{with(name)}
		s.members = map[string]struct{}{}
	case Histogram:
		for _, le := range a.buckets {
			s.out = append(s.out, with(name+"_bucket", labels.BucketLabel, formatFloat(le)))
		}
		s.out = append(s.out, with(name+"_bucket", labels.BucketLabel, "+Inf"),
			with(name+"_sum"), with(name+"_count"))
		s.counts = make([]float64, len(a.buckets)+1)
	}
	s.refs = make([]storage.SeriesRef, len(s.out))
	return s
}

// labels turns tags into labels: keys escaped like names, later tags win, and a tag
// named like a constant label becomes exported_<key>, as Prometheus does for a scraped
// label that clashes with a target label.
func (a *aggregator) labels(tags []Tag, kind Kind) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	for k, v := range a.constLabels {
		b.Set(k, v)
	}
	for _, t := range tags {
		k := EscapeName(t.Key)
		if strings.HasPrefix(k, "__") {
			k = "tag" + k // names starting with __ are reserved
		}
		if _, ok := a.constLabels[k]; ok || (kind == Histogram && k == labels.BucketLabel) {
			k = "exported_" + k
		}
		b.Set(k, t.Value) // an empty value means no label, as in Prometheus
	}
	return b.Labels()
}

// appendKey builds the series key: the name, then the tags in sorted order.
func appendKey(buf []byte, name string, tags []Tag) []byte {
	buf = append(buf, name...)
	if len(tags) > 1 && !slices.IsSortedFunc(tags, compareTags) {
		tags = slices.Clone(tags)
		slices.SortStableFunc(tags, compareTags)
	}
	for _, t := range tags {
		buf = append(buf, 0xff)
		buf = append(buf, t.Key...)
		buf = append(buf, 0xfe)
		buf = append(buf, t.Value...)
	}
	return buf
}

func compareTags(x, y Tag) int { return strings.Compare(x.Key, y.Key) }

// pending is one sample taken under the lock, appended after it is released.
type pending struct {
	s *series
	i int // index into s.out and s.refs
	v float64
}

// flush appends the current value of every series at time now and resets the sets.
// Series not updated for the TTL get a staleness marker and are forgotten. A sample the
// appender refuses is counted in failed and the others are still appended; firstErr is
// the first refusal, for the log.
//
// Values are copied under the lock and appended after it is released, so a slow store
// never holds up the listeners. Calls must be serialized (series refs are written here
// without the lock).
func (a *aggregator) flush(app storage.Appender, now time.Time) (samples, failed int, firstErr error) {
	batch := a.snapshot(now)
	t := now.UnixMilli()
	for _, p := range batch {
		ref, err := app.Append(p.s.refs[p.i], p.s.out[p.i], t, p.v)
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("append %s: %w", p.s.out[p.i], err)
			}
			continue
		}
		p.s.refs[p.i] = ref
		samples++
	}
	return samples, failed, firstErr
}

// snapshot takes the samples of one flush and resets the sets.
func (a *aggregator) snapshot(now time.Time) []pending {
	a.mu.Lock()
	defer a.mu.Unlock()
	batch := make([]pending, 0, len(a.byLabels))
	if a.ttl > 0 {
		stale := math.Float64frombits(value.StaleNaN)
		for key, s := range a.series {
			if now.Sub(s.updated) <= a.ttl {
				continue
			}
			delete(a.series, key)
			if _, ok := a.byLabels[s.out[0].String()]; ok {
				// Several keys may share a series; mark it stale once.
				delete(a.byLabels, s.out[0].String())
				for i := range s.out {
					batch = append(batch, pending{s, i, stale})
				}
			}
		}
	}
	for _, s := range a.byLabels {
		switch s.kind {
		case Counter, Gauge:
			batch = append(batch, pending{s, 0, s.value})
		case Set:
			batch = append(batch, pending{s, 0, float64(len(s.members))})
			clear(s.members)
		case Histogram:
			var cum float64
			for i, c := range s.counts {
				cum += c
				batch = append(batch, pending{s, i, cum})
			}
			batch = append(batch, pending{s, len(s.counts), s.sum}, pending{s, len(s.counts) + 1, cum})
		}
	}
	return batch
}

// metadata returns a copy of the metadata of every family seen.
func (a *aggregator) metadata() map[string]metadata.Metadata {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]metadata.Metadata, len(a.meta))
	for k, v := range a.meta {
		out[k] = v
	}
	return out
}

// EscapeName maps a StatsD name or tag key to a Prometheus name as statsd_exporter does:
// every character outside [a-zA-Z0-9_] becomes '_' (so "api.req-time" is
// "api_req_time"), and a leading digit gets a '_' in front.
func EscapeName(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for _, c := range s {
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// counterName adds the _total suffix a Prometheus counter has.
func counterName(name string) string {
	if strings.HasSuffix(name, "_total") {
		return name
	}
	return name + "_total"
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
