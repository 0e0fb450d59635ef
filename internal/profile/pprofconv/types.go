package pprofconv

import (
	"fmt"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/store"
)

// Kind is what a Go profile endpoint or runtime/pprof profile measures. It names the
// Pyroscope profile (process_cpu, memory, ...) when the sample types alone cannot: Go's
// mutex and block profiles have the same sample types.
type Kind string

// The kinds of Go's /debug/pprof endpoints (heap and allocs are the same profile).
const (
	KindUnknown   Kind = ""
	KindCPU       Kind = "cpu"
	KindHeap      Kind = "heap"
	KindAllocs    Kind = "allocs"
	KindGoroutine Kind = "goroutine"
	KindMutex     Kind = "mutex"
	KindBlock     Kind = "block"
	KindWall      Kind = "wall"
)

// Kinds lists the kinds accepted by ParseKind, in a stable order for messages.
var Kinds = []Kind{KindCPU, KindHeap, KindAllocs, KindGoroutine, KindMutex, KindBlock, KindWall}

// ParseKind accepts a kind's name ("" is KindUnknown).
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return KindUnknown, nil
	}
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown profile type %q, want one of %s", s, strings.Join(names, ", "))
}

// profileName is the Pyroscope name (the __name__ of its series) of a kind.
func (k Kind) profileName() string {
	switch k {
	case KindCPU:
		return "process_cpu"
	case KindHeap, KindAllocs:
		return "memory"
	case KindGoroutine:
		return "goroutines"
	case KindMutex, KindBlock, KindWall:
		return string(k)
	}
	return ""
}

// SampleTypeConfig is pyroscope-go's description of a sample type, sent as the
// sample_type_config part of an upload (JSON keyed by sample type).
type SampleTypeConfig struct {
	Units       string `json:"units,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Sampled     bool   `json:"sampled,omitempty"`
	Cumulative  bool   `json:"cumulative,omitempty"`
}

// defaultCumulative are the sample types of Go's runtime profiles that count since the
// program started (the heap's alloc_*, mutex and block), as Pyroscope's default mapping
// has them: a scrape, or an old client sending prev_profile, stores their difference.
var defaultCumulative = map[string]bool{
	"alloc_objects": true, "alloc_space": true, "contentions": true, "delay": true,
}

// profileName finds the Pyroscope name of a profile the way Pyroscope's /ingest does: the
// kind when known, else from the sample types (or their display names).
func profileName(kind Kind, p *profile.Profile, cfg map[string]SampleTypeConfig) string {
	if n := kind.profileName(); n != "" {
		return n
	}
	for _, st := range p.SampleType {
		if st.Type == "wall" {
			return "wall"
		}
	}
	last := ""
	for _, st := range p.SampleType {
		t := st.Type
		if c, ok := cfg[t]; ok && c.DisplayName != "" {
			t = c.DisplayName
		}
		switch {
		case strings.Contains(t, "cpu"):
			return "process_cpu"
		case strings.Contains(t, "alloc_"), strings.Contains(t, "inuse_"), t == "space", t == "objects":
			return "memory"
		case strings.Contains(t, "mutex_"):
			return "mutex"
		case strings.Contains(t, "block_"):
			return "block"
		case strings.Contains(t, "goroutine"):
			return "goroutines"
		case t == "contentions" || t == "delay":
			// A Go mutex or block profile sent without a hint; they cannot be told apart.
			return "mutex"
		}
		last = t
	}
	return idPart(last)
}

// idPart makes s usable as one field of a profile type ID.
func idPart(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD"), ":", "_")
}

// typeOf is the store type of one sample type of p.
func typeOf(name string, st *profile.ValueType, p *profile.Profile) (store.ProfileType, error) {
	t := store.ProfileType{Name: name, SampleType: idPart(st.Type), SampleUnit: idPart(st.Unit)}
	if p.PeriodType != nil {
		t.PeriodType, t.PeriodUnit = idPart(p.PeriodType.Type), idPart(p.PeriodType.Unit)
	}
	if t.Name == "" || t.SampleType == "" || t.SampleUnit == "" {
		return store.ProfileType{}, fmt.Errorf("sample type %q (unit %q) of a %q profile: name, type and unit must not be empty", st.Type, st.Unit, name)
	}
	return t, nil
}

// foldedType maps the type suffix of a Pyroscope application name ("app.cpu",
// "app.alloc_objects") to the type its folded stacks are stored as. The IDs are those a
// Go pprof profile of the same kind gets, so both land in the same series. scale converts
// a value to the type's unit when sampleRate (Hz) is known.
func foldedType(suffix string, sampleRate int64) (t store.ProfileType, period, scale int64, err error) {
	space := func(st, unit string) store.ProfileType {
		return store.ProfileType{Name: "memory", SampleType: st, SampleUnit: unit, PeriodType: "space", PeriodUnit: "bytes"}
	}
	contention := func(name, st, unit string) store.ProfileType {
		return store.ProfileType{Name: name, SampleType: st, SampleUnit: unit, PeriodType: "contentions", PeriodUnit: "count"}
	}
	scale = 1
	switch suffix {
	case "", "cpu", "itimer":
		if sampleRate > 0 {
			period = 1e9 / sampleRate
			return store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}, period, period, nil
		}
		return store.ProfileType{Name: "process_cpu", SampleType: "samples", SampleUnit: "count", PeriodType: "cpu", PeriodUnit: "nanoseconds"}, 0, 1, nil
	case "wall":
		if sampleRate > 0 {
			period = 1e9 / sampleRate
			return store.ProfileType{Name: "wall", SampleType: "wall", SampleUnit: "nanoseconds", PeriodType: "wall", PeriodUnit: "nanoseconds"}, period, period, nil
		}
		return store.ProfileType{Name: "wall", SampleType: "samples", SampleUnit: "count", PeriodType: "wall", PeriodUnit: "nanoseconds"}, 0, 1, nil
	case "alloc_objects", "inuse_objects":
		return space(suffix, "count"), 0, 1, nil
	case "alloc_space", "inuse_space":
		return space(suffix, "bytes"), 0, 1, nil
	case "goroutines", "goroutine":
		return store.ProfileType{Name: "goroutines", SampleType: "goroutine", SampleUnit: "count", PeriodType: "goroutine", PeriodUnit: "count"}, 0, 1, nil
	case "mutex_count":
		return contention("mutex", "contentions", "count"), 0, 1, nil
	case "mutex_duration":
		return contention("mutex", "delay", "nanoseconds"), 0, 1, nil
	case "block_count":
		return contention("block", "contentions", "count"), 0, 1, nil
	case "block_duration":
		return contention("block", "delay", "nanoseconds"), 0, 1, nil
	case "heap", "allocs", "mutex", "block":
		return store.ProfileType{}, 0, 0, fmt.Errorf("profile type %q names a pprof profile with several sample types; folded stacks need one, such as alloc_space or mutex_count", suffix)
	}
	return store.ProfileType{}, 0, 0, fmt.Errorf("unknown profile type %q", suffix)
}

// FoldedSuffixes are the type suffixes foldedType knows, for SplitAppName.
var foldedSuffixes = []string{"cpu", "itimer", "wall", "alloc_objects", "inuse_objects", "alloc_space", "inuse_space",
	"goroutines", "goroutine", "mutex_count", "mutex_duration", "block_count", "block_duration",
	// The kinds of Go's endpoints, for pprof bodies (`loupe profile push --type heap`).
	"heap", "allocs", "mutex", "block"}

// SplitAppName splits a Pyroscope application name "app.cpu" into the service name and a
// known type suffix; a name without a known suffix is all service name.
func SplitAppName(name string) (service, suffix string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	for _, s := range foldedSuffixes {
		if name[i+1:] == s {
			return name[:i], s
		}
	}
	return name, ""
}

// KindOfSuffix is the Kind a type suffix of an application name implies for a pprof body.
func KindOfSuffix(suffix string) Kind {
	switch suffix {
	case "cpu", "itimer":
		return KindCPU
	case "wall":
		return KindWall
	case "alloc_objects", "inuse_objects", "alloc_space", "inuse_space", "heap", "allocs":
		return KindHeap
	case "goroutines", "goroutine":
		return KindGoroutine
	case "mutex_count", "mutex_duration", "mutex":
		return KindMutex
	case "block_count", "block_duration", "block":
		return KindBlock
	}
	return KindUnknown
}
