package pprofconv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// FoldedOptions say how to store folded stacks.
type FoldedOptions struct {
	// Labels are the series labels; "service_name" is required.
	Labels map[string]string
	// Suffix is the type suffix of the application name ("cpu", "alloc_space", ...; ""
	// is cpu), as Pyroscope's /ingest reads it.
	Suffix string
	// SampleRate (Hz) turns CPU sample counts into nanoseconds; 0 keeps counts.
	SampleRate int64
	// Lines takes each line as one stack with value 1 (Pyroscope's "lines" format)
	// instead of "a;b;c 12".
	Lines       bool
	Time        time.Time
	Duration    time.Duration
	Limits      Limits
	LabelLimits labellimit.Limits
}

// ParseFolded reads collapsed stacks, one per line, root first and separated by ';',
// followed by a space and the value ("main;work;burn 12"), as Brendan Gregg's
// stackcollapse scripts and Pyroscope's folded format write them. The same stack on
// several lines adds up. Empty lines are skipped; data may be gzipped.
func ParseFolded(data []byte, o FoldedOptions) ([]store.Profile, error) {
	if o.Labels[ServiceLabel] == "" {
		return nil, ErrNoService
	}
	if err := checkLabels(o.Labels, o.LabelLimits); err != nil {
		return nil, err
	}
	t, period, scale, err := foldedType(o.Suffix, o.SampleRate)
	if err != nil {
		return nil, err
	}
	raw, err := Decompress(data, o.Limits)
	if err != nil {
		return nil, err
	}
	a := newAggregator(Options{Limits: o.Limits}, 1, 0)
	a.series = []map[string]string{o.Labels}
	a.names = map[string]uint32{}
	lineNo, samples := 0, 0
	for len(raw) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimRight(line, "\r\t ")
		if len(line) == 0 {
			continue
		}
		stack, value := line, int64(1)
		if !o.Lines {
			sp := bytes.LastIndexByte(line, ' ')
			if sp < 0 {
				return nil, fmt.Errorf("folded line %d: want \"frame;frame;... value\", found no value", lineNo)
			}
			v, err := strconv.ParseInt(string(line[sp+1:]), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("folded line %d: value %.32q is not a non-negative integer", lineNo, line[sp+1:])
			}
			stack, value = bytes.TrimRight(line[:sp], " "), v
		}
		if len(stack) == 0 {
			return nil, fmt.Errorf("folded line %d: empty stack", lineNo)
		}
		samples++
		if lim := o.Limits.Samples; lim > 0 && samples > lim {
			return nil, &LimitError{Limit: "Samples", Max: int64(lim), What: "stacks (lines)"}
		}
		depth := bytes.Count(stack, []byte{';'}) + 1
		if lim := o.Limits.StackDepth; lim > 0 && depth > lim {
			return nil, &LimitError{Limit: "StackDepth", Max: int64(lim), What: fmt.Sprintf("frames in one stack (line %d)", lineNo)}
		}
		if lim := o.Limits.Functions; lim > 0 && len(a.frames) > lim {
			return nil, &LimitError{Limit: "Functions", Max: int64(lim), What: "distinct functions"}
		}
		// Leaf first, as store.ProfileSample wants: walk the frames from the end. A frame
		// and a stack seen before are found without allocating.
		a.scratch = a.scratch[:0]
		for end := len(stack); end >= 0; {
			start := bytes.LastIndexByte(stack[:end], ';') + 1
			id, ok := a.names[string(stack[start:end])]
			if !ok {
				name := string(stack[start:end])
				if name == "" {
					name = "(unknown)"
				}
				id = a.frame(store.Frame{Function: name})
				a.names[string(stack[start:end])] = id
			}
			a.scratch = binary.LittleEndian.AppendUint32(a.scratch, id)
			end = start - 1
		}
		k := key{stack: a.internScratch()}
		v, ok := a.values[k]
		if !ok {
			v = a.newSums(256)
			a.values[k] = v
			a.order = append(a.order, k)
		}
		if value > math.MaxInt64/scale || v[0] > math.MaxInt64-value*scale {
			return nil, fmt.Errorf("folded line %d: value %d overflows the sum", lineNo, value)
		}
		v[0] += value * scale
	}
	p := store.Profile{Type: t, Labels: o.Labels, Time: o.Time, Duration: o.Duration, Period: period}
	for _, k := range a.order {
		if v := a.values[k][0]; v != 0 {
			p.Samples = append(p.Samples, store.ProfileSample{Stack: a.stack(k.stack), Value: v})
		}
	}
	if len(p.Samples) == 0 {
		return nil, nil
	}
	return []store.Profile{p}, nil
}
