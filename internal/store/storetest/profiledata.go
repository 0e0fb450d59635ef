package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/loupe-dev/loupe/internal/store"
)

// The profile test data: a few services, two types, stacks drawn from a small set (so that
// profiles repeat stacks, as real ones do), some samples under spans, over three days.

var (
	cpuType   = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	allocType = store.ProfileType{Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}
	// goroutineType has empty period fields, as Pyroscope's goroutine type.
	goroutineType = store.ProfileType{Name: "goroutines", SampleType: "goroutine", SampleUnit: "count"}
)

var testFrames = []store.Frame{
	{Function: "main.main", File: "/src/app/main.go"},
	{Function: "net/http.(*conn).serve", File: "/usr/lib/go/src/net/http/server.go"},
	{Function: "main.handle", File: "/src/app/handler.go"},
	{Function: "main.work", File: "/src/app/work.go"},
	{Function: "runtime.mallocgc", File: "/usr/lib/go/src/runtime/malloc.go"},
	{Function: "encoding/json.Unmarshal", File: "/usr/lib/go/src/encoding/json/decode.go"},
	{Function: "main.work", File: "/src/app/work_other.go"}, // same name, another file: another frame
	{Function: "runtime.goexit", File: ""},
	{Function: "main.(*T).String", File: "/src/app/t.go"},
}

// testStacks are leaf first, as in pprof; indexes into testFrames.
var testStacks = [][]int{
	{3, 2, 1, 7},
	{4, 3, 2, 1, 7},
	{5, 2, 1, 7},
	{4, 5, 2, 1, 7},
	{6, 0},
	{3, 3, 0}, // recursive
	{8, 4, 3, 2, 1, 7},
	{0},
}

func stackOf(ix []int) []store.Frame {
	out := make([]store.Frame, len(ix))
	for i, j := range ix {
		out[i] = testFrames[j]
	}
	return out
}

// testSpans are the span ids and names of span-profiled samples.
var testSpans = []struct{ id, name string }{
	{"00000000000000a1", "GET /a"},
	{"00000000000000b2", "GET /b"},
	{"fedcba9876543210", "POST /c"},
}

// makeProfiles makes n profiles, one every 70 minutes from base (three days for n = 60).
func makeProfiles(n int) []store.Profile {
	services := []string{"api", "web", "db"}
	var out []store.Profile
	for i := range n {
		lbls := map[string]string{"service_name": services[i%3], "pod": fmt.Sprintf("pod-%d", i%5)}
		if i%4 != 0 {
			lbls["region"] = []string{"eu", "us"}[i%2]
		}
		typ, period := cpuType, int64(10_000_000)
		switch i % 7 {
		case 3:
			typ, period = allocType, 512*1024
		case 5:
			typ, period = goroutineType, 0
		}
		p := store.Profile{
			Type: typ, Labels: lbls, Time: base.Add(time.Duration(i) * 70 * time.Minute),
			Duration: 10 * time.Second, Period: period,
		}
		for j := range 6 + i%5 {
			k := (i*3 + j*5) % len(testStacks)
			v := int64(1+(i+j)%9) * max(period, 1)
			smp := store.ProfileSample{Stack: stackOf(testStacks[k]), Value: v}
			if (i+j)%3 == 0 {
				sp := testSpans[(i+j)%len(testSpans)]
				smp.SpanID, smp.SpanName = sp.id, sp.name
			}
			p.Samples = append(p.Samples, smp)
		}
		// The same stack twice in one profile (pprof keeps lines, the store does not).
		p.Samples = append(p.Samples, store.ProfileSample{Stack: stackOf(testStacks[0]), Value: max(period, 1)})
		out = append(out, p)
	}
	return out
}

// stackKey is a canonical text of a stack, to compare merged stacks.
func stackKey(s []store.Frame) string {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.Function + "@" + f.File + ";")
	}
	return b.String()
}

// selects reports whether sel (type, matchers, time) selects profile p.
func selects(sel store.ProfileSelector, p store.Profile) bool {
	if sel.Type != "" && p.Type.ID() != sel.Type {
		return false
	}
	if !sel.Start.IsZero() && p.Time.Before(sel.Start) || !sel.End.IsZero() && !p.Time.Before(sel.End) {
		return false
	}
	for _, m := range sel.Matchers {
		if !m.Matches(p.Labels[m.Name]) {
			return false
		}
	}
	return true
}

// sampleSelected reports whether sel's span ids select a sample.
func sampleSelected(sel store.ProfileSelector, smp store.ProfileSample) bool {
	return len(sel.SpanIDs) == 0 || smp.SpanID != "" && slices.Contains(sel.SpanIDs, smp.SpanID)
}

// wantMerge is MergeStacks computed from the data: stack key -> sum.
func wantMerge(ps []store.Profile, sel store.ProfileSelector) map[string]int64 {
	out := map[string]int64{}
	for _, p := range ps {
		if !selects(sel, p) {
			continue
		}
		for _, smp := range p.Samples {
			if sampleSelected(sel, smp) {
				out[stackKey(smp.Stack)] += smp.Value
			}
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func gotMerge(svs []store.StackValue) map[string]int64 {
	out := map[string]int64{}
	for _, sv := range svs {
		out[stackKey(sv.Stack)] += sv.Value
	}
	return out
}

func matcher(t labels.MatchType, name, value string) *labels.Matcher {
	return labels.MustNewMatcher(t, name, value)
}
