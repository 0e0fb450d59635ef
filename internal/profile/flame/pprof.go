package flame

import (
	"io"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/store"
)

// Pprof builds a pprof profile of merged stacks: one sample per stack with one value of
// type typ, one location per function (stored stacks carry no addresses or lines). start
// and end are the selection's range, which `go tool pprof` shows as the profile's time
// and duration.
func Pprof(stacks []store.StackValue, typ store.ProfileType, start, end time.Time) *profile.Profile {
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: typ.SampleType, Unit: typ.SampleUnit}},
		TimeNanos:     start.UnixNano(),
		DurationNanos: end.Sub(start).Nanoseconds(),
	}
	if typ.PeriodType != "" {
		p.PeriodType = &profile.ValueType{Type: typ.PeriodType, Unit: typ.PeriodUnit}
	}
	locs := map[store.Frame]*profile.Location{}
	for _, s := range stacks {
		sample := &profile.Sample{Value: []int64{s.Value}, Location: make([]*profile.Location, 0, len(s.Stack))}
		for _, f := range s.Stack {
			loc := locs[f]
			if loc == nil {
				id := uint64(len(p.Function) + 1)
				fn := &profile.Function{ID: id, Name: f.Function, SystemName: f.Function, Filename: f.File}
				loc = &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
				p.Function = append(p.Function, fn)
				p.Location = append(p.Location, loc)
				locs[f] = loc
			}
			sample.Location = append(sample.Location, loc) // leaf first, as pprof wants
		}
		p.Sample = append(p.Sample, sample)
	}
	return p
}

// WritePprof writes the gzipped pprof of stacks to w, the form `go tool pprof` fetches.
func WritePprof(w io.Writer, stacks []store.StackValue, typ store.ProfileType, start, end time.Time) error {
	return Pprof(stacks, typ, start, end).Write(w)
}
