package pprofconv

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/store"
)

// Options say how to store a profile.
type Options struct {
	// Labels are the series labels every profile gets; "service_name" is required.
	Labels map[string]string
	// Kind names the profile when known (the endpoint scraped, --type, the name suffix).
	Kind Kind
	// SampleTypes is pyroscope-go's sample_type_config, when sent.
	SampleTypes map[string]SampleTypeConfig
	// Time and Duration are used when the profile has no time (or one in 1970, as some
	// old agents send) and no duration.
	Time     time.Time
	Duration time.Duration
	// SkipCumulativeWithoutPrevious leaves out the sample types that count since the
	// program started when there is no previous profile to subtract (a scraper's first
	// round): stored as they are, they would look like one huge interval.
	SkipCumulativeWithoutPrevious bool
	Limits                        Limits
	LabelLimits                   labellimit.Limits
}

// The pprof labels pyroscope-go's OpenTelemetry integration sets; they go to each sample,
// not to the series.
const (
	LabelSpanID   = "span_id"
	LabelSpanName = "span_name"
	ServiceLabel  = "service_name"
)

// ErrNoService is Options without a service_name label.
var ErrNoService = errors.New("service_name label is required")

// Convert turns p into one store.Profile per sample type and series. When prev is not nil
// (the profile before p from the same source), the cumulative sample types are stored as
// p minus prev; stacks whose difference is not positive are left out.
func Convert(p, prev *profile.Profile, o Options) ([]store.Profile, error) {
	if o.Labels[ServiceLabel] == "" {
		return nil, ErrNoService
	}
	if err := checkLabels(o.Labels, o.LabelLimits); err != nil {
		return nil, err
	}
	name := profileName(o.Kind, p, o.SampleTypes)
	types := make([]store.ProfileType, len(p.SampleType))
	for i, st := range p.SampleType {
		t, err := typeOf(name, st, p)
		if err != nil {
			return nil, err
		}
		types[i] = t
	}
	a := newAggregator(o, len(types), len(p.Sample))
	if err := a.add(p); err != nil {
		return nil, err
	}
	cumulative := make([]bool, len(types))
	for i, st := range p.SampleType {
		if c, ok := o.SampleTypes[st.Type]; ok {
			cumulative[i] = c.Cumulative
		} else {
			cumulative[i] = defaultCumulative[st.Type] && name != "process_cpu"
		}
	}
	if prev != nil {
		if err := a.subtract(prev, p.SampleType, cumulative); err != nil {
			return nil, fmt.Errorf("previous profile: %w", err)
		}
	}
	when, dur := o.Time, o.Duration
	if p.TimeNanos > 0 && time.Unix(0, p.TimeNanos).Year() > 1970 {
		when = time.Unix(0, p.TimeNanos)
	}
	if p.DurationNanos > 0 {
		dur = time.Duration(p.DurationNanos)
	}
	var out []store.Profile
	for i, t := range types {
		if prev == nil && cumulative[i] && o.SkipCumulativeWithoutPrevious {
			continue
		}
		for s, labels := range a.series {
			var samples []store.ProfileSample
			if len(a.series) == 1 {
				samples = make([]store.ProfileSample, 0, len(a.order))
			}
			for _, k := range a.order {
				if k.series != s {
					continue
				}
				v := a.values[k][i]
				if v <= 0 && prev != nil && cumulative[i] || v == 0 {
					continue
				}
				if k.stack == "" {
					// A sample without locations (Go's goroutine profile has them for
					// goroutines it could not unwind): no function to show it under.
					continue
				}
				samples = append(samples, store.ProfileSample{Stack: a.stack(k.stack), Value: v, SpanID: k.spanID, SpanName: k.spanName})
			}
			if len(samples) == 0 {
				continue
			}
			out = append(out, store.Profile{Type: t, Labels: labels, Time: when, Duration: dur, Period: max(p.Period, 0), Samples: samples})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Type.ID() < out[j].Type.ID() })
	return out, nil
}

// key identifies one stack of one series under one span.
type key struct {
	series           int
	spanID, spanName string
	stack            string // frame indexes, 4 bytes each, leaf first
}

// aggregator sums sample values per key, interning frames and series.
type aggregator struct {
	o       Options
	ntypes  int
	frames  []store.Frame
	frameID map[store.Frame]uint32
	locs    map[*profile.Location][]byte // the stack key bytes of one location
	series  []map[string]string
	byKey   map[string]int // series key -> index
	values  map[key][]int64
	stacks  map[string][]store.Frame // built once per stack key
	order   []key                    // insertion order, so that output is deterministic

	scratch   []byte            // the stack key being built
	stackKeys map[string]string // interned stack keys
	frameBuf  []store.Frame     // backing array the stacks are cut from
	names     map[string]uint32 // folded stacks' frames by function name
	extra     []string          // a sample's series labels, reused
	seriesKey []byte            // the series key being built
	sums      []int64           // backing array the values are cut from
}

// newAggregator sizes its maps for nsamples distinct stacks, so that they do not grow
// sample by sample.
func newAggregator(o Options, ntypes, nsamples int) *aggregator {
	return &aggregator{o: o, ntypes: ntypes, frameID: map[store.Frame]uint32{}, locs: map[*profile.Location][]byte{},
		byKey: map[string]int{}, values: make(map[key][]int64, nsamples), order: make([]key, 0, nsamples),
		stacks: make(map[string][]store.Frame, nsamples), stackKeys: make(map[string]string, nsamples)}
}

func (a *aggregator) add(p *profile.Profile) error {
	for _, s := range p.Sample {
		if len(s.Value) != a.ntypes {
			return fmt.Errorf("sample has %d values, the profile %d sample types", len(s.Value), a.ntypes)
		}
		k, err := a.key(s)
		if err != nil {
			return err
		}
		v, ok := a.values[k]
		if !ok {
			v = a.newSums(len(p.Sample)) // one allocation for every key's sums
			a.values[k] = v
			a.order = append(a.order, k)
		}
		for i, x := range s.Value {
			v[i] += x
		}
	}
	return nil
}

// subtract takes prev's values from the cumulative types. prev's sample types are matched
// to cur's by type and unit.
func (a *aggregator) subtract(prev *profile.Profile, cur []*profile.ValueType, cumulative []bool) error {
	idx := make([]int, len(cur)) // cur index -> prev index, -1 if absent
	for i, c := range cur {
		idx[i] = -1
		for j, pt := range prev.SampleType {
			if pt.Type == c.Type && pt.Unit == c.Unit {
				idx[i] = j
			}
		}
	}
	for _, s := range prev.Sample {
		k, err := a.key(s)
		if err != nil {
			return err
		}
		v, ok := a.values[k]
		if !ok {
			continue // gone from the current profile: nothing happened there since
		}
		for i := range cur {
			if cumulative[i] && idx[i] >= 0 && idx[i] < len(s.Value) {
				v[i] -= s.Value[idx[i]]
			}
		}
	}
	return nil
}

func (a *aggregator) key(s *profile.Sample) (key, error) {
	if d := a.o.Limits.StackDepth; d > 0 && len(s.Location) > d {
		return key{}, &LimitError{Limit: "StackDepth", Max: int64(d), What: "locations in one sample's stack"}
	}
	var k key
	extra := a.extra[:0]
	for name, vals := range s.Label {
		if len(vals) == 0 {
			continue
		}
		switch name {
		case LabelSpanID:
			if validSpanID(vals[0]) {
				k.spanID = vals[0]
			}
		case LabelSpanName:
			k.spanName = vals[0]
		default:
			n := SanitizeLabelName(name)
			if n == "" || n == ServiceLabel {
				continue
			}
			extra = append(extra, n, vals[0])
		}
	}
	if k.spanID == "" {
		k.spanName = "" // a name without a valid span ID selects nothing
	}
	a.extra = extra
	si, err := a.seriesIndex(extra)
	if err != nil {
		return key{}, err
	}
	k.series = si
	// The stack key is built in a reused buffer and interned: a stack seen before costs no
	// allocation, a new one one string.
	a.scratch = a.scratch[:0]
	for _, l := range s.Location {
		if l == nil { // the pprof decoder leaves an unknown location ID nil
			return key{}, errors.New("a sample refers to a location the profile does not have")
		}
		a.scratch = append(a.scratch, a.locKey(l)...)
	}
	k.stack = a.internScratch()
	return k, nil
}

// internScratch returns a.scratch as a string, the same one for the same bytes.
func (a *aggregator) internScratch() string {
	st, ok := a.stackKeys[string(a.scratch)]
	if !ok {
		st = string(a.scratch)
		a.stackKeys[st] = st
	}
	return st
}

// newSums returns a zeroed slice of ntypes sums for a new key, cut from a backing array
// sized for hint keys.
func (a *aggregator) newSums(hint int) []int64 {
	if len(a.sums) < a.ntypes {
		a.sums = make([]int64, a.ntypes*max(hint, 1))
	}
	v := a.sums[:a.ntypes:a.ntypes]
	a.sums = a.sums[a.ntypes:]
	return v
}

// seriesIndex returns the index of the series of a sample's extra labels (name, value,
// name, value, ...), which it sorts in place. A label set seen before is found without
// allocating: the key is built in a reused buffer.
func (a *aggregator) seriesIndex(extra []string) (int, error) {
	for i := 2; i < len(extra); i += 2 { // insertion sort of the pairs: a sample has few
		for j := i; j > 0 && (extra[j] < extra[j-2] || extra[j] == extra[j-2] && extra[j+1] < extra[j-1]); j -= 2 {
			extra[j], extra[j+1], extra[j-2], extra[j-1] = extra[j-2], extra[j-1], extra[j], extra[j+1]
		}
	}
	a.seriesKey = a.seriesKey[:0]
	for i := 0; i < len(extra); i += 2 {
		if i > 0 {
			a.seriesKey = append(a.seriesKey, 0xfe)
		}
		a.seriesKey = append(append(append(a.seriesKey, extra[i]...), 0xff), extra[i+1]...)
	}
	if i, ok := a.byKey[string(a.seriesKey)]; ok {
		return i, nil
	}
	sk := string(a.seriesKey)
	if lim := a.o.Limits.Series; lim > 0 && len(a.series) >= lim {
		return 0, &LimitError{Limit: "Series", Max: int64(lim), What: "distinct label sets in the samples' labels"}
	}
	labels := make(map[string]string, len(a.o.Labels)+len(extra)/2)
	for k, v := range a.o.Labels {
		labels[k] = v
	}
	for i := 0; i < len(extra); i += 2 {
		labels[extra[i]] = extra[i+1]
	}
	if err := checkLabels(labels, a.o.LabelLimits); err != nil {
		return 0, err
	}
	a.byKey[sk] = len(a.series)
	a.series = append(a.series, labels)
	return len(a.series) - 1, nil
}

// locKey is the stack key bytes of a location: its lines, innermost (leaf) first, as pprof
// lists them.
func (a *aggregator) locKey(l *profile.Location) []byte {
	if b, ok := a.locs[l]; ok {
		return b
	}
	var b []byte
	if len(l.Line) == 0 {
		f := store.Frame{Function: fmt.Sprintf("0x%x", l.Address)}
		if l.Mapping != nil {
			f.File = l.Mapping.File
		}
		b = binary.LittleEndian.AppendUint32(b, a.frame(f))
	}
	for _, ln := range l.Line {
		var f store.Frame
		if fn := ln.Function; fn != nil {
			f.File = fn.Filename
			f.Function = cmp.Or(fn.Name, fn.SystemName)
		}
		if f.Function == "" { // a line without a function name shows its address
			f.Function = fmt.Sprintf("0x%x", l.Address)
		}
		b = binary.LittleEndian.AppendUint32(b, a.frame(f))
	}
	a.locs[l] = b
	return b
}

func (a *aggregator) frame(f store.Frame) uint32 {
	if id, ok := a.frameID[f]; ok {
		return id
	}
	id := uint32(len(a.frames))
	a.frames = append(a.frames, f)
	a.frameID[f] = id
	return id
}

// stack is the frames of a stack key. The slice is shared by the profiles of every sample
// type (a writer does not retain or modify them).
func (a *aggregator) stack(k string) []store.Frame {
	if st, ok := a.stacks[k]; ok {
		return st
	}
	n := len(k) / 4
	if cap(a.frameBuf)-len(a.frameBuf) < n {
		a.frameBuf = make([]store.Frame, 0, max(n, 4096)) // one allocation for many stacks
	}
	start := len(a.frameBuf)
	for i := 0; i+4 <= len(k); i += 4 {
		a.frameBuf = append(a.frameBuf, a.frames[uint32(k[i])|uint32(k[i+1])<<8|uint32(k[i+2])<<16|uint32(k[i+3])<<24])
	}
	st := a.frameBuf[start:len(a.frameBuf):len(a.frameBuf)]
	a.stacks[k] = st
	return st
}

// validSpanID reports whether s is 16 hex digits, the form of an OpenTelemetry span ID.
func validSpanID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// SanitizeLabelName makes a pprof label or tag name a label name as Loupe makes OTLP
// attribute names ones (logql.SanitizeLabelName: invalid characters become '_',
// "otel.scope.name" is otel_scope_name, a leading digit gets a '_'; a valid name is
// returned as it is, without allocating, which matters per sample). Names starting "__"
// are reserved and dropped (""), as Pyroscope drops pyroscope-go's __session_id__.
func SanitizeLabelName(s string) string {
	if s == "" || strings.HasPrefix(s, "__") {
		return ""
	}
	return logql.SanitizeLabelName(s)
}

func checkLabels(ls map[string]string, lim labellimit.Limits) error {
	if lim.Labels > 0 && len(ls) > lim.Labels {
		return &labellimit.Error{Reason: labellimit.ReasonTooManyLabels,
			Msg: fmt.Sprintf("profile series has %d labels, more than the limit of %d (limits.max_attributes_per_item)", len(ls), lim.Labels)}
	}
	for k, v := range ls {
		if err := lim.CheckLabel(k, v); err != nil {
			return err
		}
	}
	return nil
}
