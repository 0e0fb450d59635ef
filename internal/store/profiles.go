package store

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// SignalProfiles are continuous-profiling samples (pprof, Pyroscope), deleted by profile time.
const SignalProfiles Signal = "profiles"

// ProfileType says what a profile measures, in Pyroscope's terms, so that its ID
// ("process_cpu:cpu:nanoseconds:cpu:nanoseconds") is the one Grafana's Pyroscope data
// source lists and asks for. A pprof file with several sample types (a Go heap profile has
// four) is stored as one profile per type.
type ProfileType struct {
	Name       string // "process_cpu", "memory", "goroutines", "mutex", "block", ...
	SampleType string // "cpu", "alloc_objects", "alloc_space", "inuse_space", ...
	SampleUnit string // "nanoseconds", "count", "bytes"
	PeriodType string // "cpu", "space", "goroutine", "contentions"; may be empty
	PeriodUnit string // "nanoseconds", "bytes", "count"; may be empty
}

// ID is the type's Pyroscope identifier: the five fields joined by colons.
func (t ProfileType) ID() string {
	return strings.Join([]string{t.Name, t.SampleType, t.SampleUnit, t.PeriodType, t.PeriodUnit}, ":")
}

// ParseProfileType parses an ID made by ProfileType.ID.
func ParseProfileType(id string) (ProfileType, error) {
	f := strings.Split(id, ":")
	if len(f) != 5 || f[0] == "" || f[1] == "" || f[2] == "" {
		return ProfileType{}, fmt.Errorf("profile type %q: want name:sample_type:sample_unit:period_type:period_unit", id)
	}
	return ProfileType{Name: f[0], SampleType: f[1], SampleUnit: f[2], PeriodType: f[3], PeriodUnit: f[4]}, nil
}

// Profile is one profile of one type for one series, ready to store. Converters split a
// pprof file by sample type and by the pprof labels of its samples (other than span_id and
// span_name), which become series labels as in Pyroscope.
type Profile struct {
	Type ProfileType
	// Labels identify the series. "service_name" is required (Pyroscope's application
	// name); names follow Prometheus' rules.
	Labels   map[string]string
	Time     time.Time     // start of the profiled period
	Duration time.Duration // length of the profiled period; 0 for snapshots (heap, goroutine)
	Period   int64         // sampling period in Type.PeriodUnit; 0 when unknown
	Samples  []ProfileSample
}

// ProfileSample is one stack and its value in one profile.
type ProfileSample struct {
	// Stack is leaf first, as in pprof. Frames carry no line numbers: flame graphs group by
	// function, and lines would split identical stacks and defeat deduplication.
	Stack []Frame
	Value int64
	// SpanID (16 hex digits) and SpanName come from the pprof labels "span_id" and
	// "span_name" that pyroscope-go's OpenTelemetry integration sets; empty when absent.
	SpanID   string
	SpanName string
}

// Frame is one function in a stack.
type Frame struct {
	Function string
	File     string // may be empty
}

// ProfileWriter stores profiles. Same contract as LogWriter: safe for concurrent use,
// atomic per call, committed and durable on nil, ps not retained.
type ProfileWriter interface {
	WriteProfiles(ctx context.Context, ps []Profile) error
}

// ProfileSelector selects stored samples.
type ProfileSelector struct {
	// Type is a ProfileType.ID. Required by MergeStacks, ProfileSeries and SpansWithFunction;
	// empty means every type in ProfileLabelNames and ProfileLabelValues.
	Type     string
	Matchers []*labels.Matcher // on series labels, all must match; none selects every series
	Start    time.Time         // profile Time in [Start, End)
	End      time.Time
	SpanIDs  []string // when set, only samples recorded under one of these spans
}

// StackValue is the summed value of one distinct stack.
type StackValue struct {
	Stack []Frame // leaf first
	Value int64
}

// ProfileSeries is the summed value over time of the series one group-by combination selects.
type ProfileSeries struct {
	Labels map[string]string // the group-by labels (all series labels when grouping by none)
	Points []ProfilePoint    // ascending time, buckets without samples omitted
}

// ProfilePoint is the sum of sample values in one bucket.
type ProfilePoint struct {
	Time  time.Time // bucket start: Start + k*step
	Value int64
}

// SpanValue is how much of a selection's value was recorded under one span.
type SpanValue struct {
	SpanID   string
	SpanName string
	Value    int64
}

// ProfileReader queries stored profiles. Safe for concurrent use.
type ProfileReader interface {
	// ProfileTypes lists the types with profiles in [start, end), sorted by ID.
	ProfileTypes(ctx context.Context, start, end time.Time) ([]ProfileType, error)
	// ProfileLabelNames lists the label names of the series sel selects, sorted.
	ProfileLabelNames(ctx context.Context, sel ProfileSelector) ([]string, error)
	// ProfileLabelValues lists the values of one label among the series sel selects, sorted.
	ProfileLabelValues(ctx context.Context, sel ProfileSelector, name string) ([]string, error)
	// MergeStacks sums sample values per distinct stack over every sample sel selects,
	// in no particular order. Stacks whose sum is 0 are omitted.
	MergeStacks(ctx context.Context, sel ProfileSelector) ([]StackValue, error)
	// ProfileSeries sums sample values in buckets of step (> 0), one series per distinct
	// combination of the groupBy labels' values (missing labels count as "").
	ProfileSeries(ctx context.Context, sel ProfileSelector, groupBy []string, step time.Duration) ([]ProfileSeries, error)
	// SpansWithFunction sums, per span, the value of the samples sel selects whose stack
	// contains function, largest first, at most limit. Samples without a span are left out.
	SpansWithFunction(ctx context.Context, sel ProfileSelector, function string, limit int) ([]SpanValue, error)
}

// ProfileExporter reads stored profiles back whole, in the form ProfileWriter takes, so
// that they can be copied into another store (loupe migrate): ProfileReader returns only
// merged stacks and series, which lose each profile's time, duration, period and spans.
type ProfileExporter interface {
	// ExportProfiles yields the profiles with Time in [start, end) (zero: unbounded), in
	// ascending time, each with its series labels, type, time, duration, period and its
	// samples with their stacks and spans. Writing them into an empty store gives the same
	// ProfileReader answers as the exporting store. What a store merged when writing stays
	// merged: samples of the same stack and span in one profile come back as one, and
	// profiles of the same series, type and time as one. The first error ends the sequence.
	ExportProfiles(ctx context.Context, start, end time.Time) iter.Seq2[Profile, error]
}
