package migrate

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

var (
	cpuNs    = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	cpuCount = store.ProfileType{Name: "process_cpu", SampleType: "samples", SampleUnit: "count", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	allocB   = store.ProfileType{Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}
	gorout   = store.ProfileType{Name: "goroutines", SampleType: "goroutine", SampleUnit: "count"}
)

var profFrames = []store.Frame{
	{Function: "main.main", File: "/src/main.go"}, {Function: "main.handle", File: "/src/h.go"},
	{Function: "main.work", File: "/src/w.go"}, {Function: "runtime.mallocgc", File: "/go/malloc.go"},
	{Function: "encoding/json.Unmarshal", File: "/go/decode.go"}, {Function: "main.work", File: "/src/w2.go"},
	{Function: "runtime.goexit"},
}

// profilePushes makes n pushes as the pprof converter makes them, one every 50 minutes
// from base (three days for n = 80): a Go CPU profile (cpu/nanoseconds and samples/count,
// whose samples DuckDB stores once), every third push an alloc profile too, every fifth a
// goroutine snapshot; some samples under spans, repeated stacks.
func profilePushes(n int) [][]store.Profile {
	var out [][]store.Profile
	for i := range n {
		lbls := map[string]string{"service_name": []string{"api", "web", "db"}[i%3], "pod": fmt.Sprintf("pod-%d", i%4)}
		if i%2 == 0 {
			lbls["region"] = "eu"
		}
		at := base.Add(time.Duration(i) * 50 * time.Minute)
		var ns, counts, alloc, gs []store.ProfileSample
		for j := range 4 + i%6 {
			depth := 1 + (i+j)%len(profFrames)
			stack := make([]store.Frame, depth)
			for k := range depth {
				stack[k] = profFrames[(i*j+k*3)%len(profFrames)]
			}
			c := int64(1 + (i*7+j)%5)
			var span, name string
			if (i+j)%3 == 0 {
				span, name = fmt.Sprintf("%016x", 0xa0+(i+j)%4), fmt.Sprintf("GET /%d", (i+j)%4)
			}
			smp := func(v int64) store.ProfileSample {
				return store.ProfileSample{Stack: stack, Value: v, SpanID: span, SpanName: name}
			}
			ns, counts = append(ns, smp(c*10_000_000)), append(counts, smp(c))
			alloc = append(alloc, smp(c*c*4096))
			gs = append(gs, store.ProfileSample{Stack: stack, Value: c})
		}
		p := func(t store.ProfileType, dur time.Duration, period int64, s []store.ProfileSample) store.Profile {
			return store.Profile{Type: t, Labels: lbls, Time: at, Duration: dur, Period: period, Samples: s}
		}
		push := []store.Profile{p(cpuNs, 10*time.Second, 10_000_000, ns), p(cpuCount, 10*time.Second, 10_000_000, counts)}
		if i%3 == 0 {
			push = append(push, p(allocB, 0, 512*1024, alloc))
		}
		if i%5 == 0 {
			push = append(push, p(gorout, 0, 0, gs))
		}
		out = append(out, push)
	}
	return out
}

// requireSameProfiles checks that a and b answer every profile query alike.
func requireSameProfiles(t *testing.T, a, b store.ProfileReader) {
	t.Helper()
	ctx := context.Background()
	ta, err := a.ProfileTypes(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	tb, err := b.ProfileTypes(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, ta, tb)
	require.Len(t, ta, 4)
	start, end := base.Add(-time.Hour), base.Add(72*time.Hour)
	svc := func(v string) []*labels.Matcher {
		return []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", v)}
	}
	nonEmpty := 0
	for _, typ := range ta {
		for _, sel := range []store.ProfileSelector{
			{Type: typ.ID(), Start: start, End: end},
			{Type: typ.ID(), Start: base.Add(20 * time.Hour), End: base.Add(30 * time.Hour)},
			{Type: typ.ID(), Start: start, End: end, Matchers: svc("web")},
			{Type: typ.ID(), Start: start, End: end, Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "region", "")}},
			{Type: typ.ID(), Start: start, End: end, SpanIDs: []string{"00000000000000a0", "00000000000000a2"}},
			{Type: typ.ID(), Start: start, End: end, SpanIDs: []string{"00000000000000a1"}, Matchers: svc("api")},
		} {
			what := fmt.Sprintf("%s %v %v %v", typ.ID(), sel.Start, sel.Matchers, sel.SpanIDs)
			ma, err := a.MergeStacks(ctx, sel)
			require.NoError(t, err)
			mb, err := b.MergeStacks(ctx, sel)
			require.NoError(t, err)
			require.ElementsMatch(t, ma, mb, what)
			if len(ma) > 0 {
				nonEmpty++
			}
			for _, group := range [][]string{nil, {"service_name"}, {"region", "pod"}} {
				sa, err := a.ProfileSeries(ctx, sel, group, time.Hour)
				require.NoError(t, err)
				sb, err := b.ProfileSeries(ctx, sel, group, time.Hour)
				require.NoError(t, err)
				// In no promised order (the stores sort by different keys).
				require.ElementsMatch(t, sa, sb, what)
			}
			for _, fn := range []string{"main.work", "runtime.mallocgc"} {
				wa, err := a.SpansWithFunction(ctx, sel, fn, 100)
				require.NoError(t, err)
				wb, err := b.SpansWithFunction(ctx, sel, fn, 100)
				require.NoError(t, err)
				requireSame(t, wa, wb, what)
			}
			na, err := a.ProfileLabelNames(ctx, sel)
			require.NoError(t, err)
			nb, err := b.ProfileLabelNames(ctx, sel)
			require.NoError(t, err)
			requireSame(t, na, nb, what)
			for _, name := range []string{"service_name", "pod", "region"} {
				va, err := a.ProfileLabelValues(ctx, sel, name)
				require.NoError(t, err)
				vb, err := b.ProfileLabelValues(ctx, sel, name)
				require.NoError(t, err)
				requireSame(t, va, vb, what)
			}
		}
	}
	// Most selections have samples (21 of the 24: not the goroutine snapshots' spans,
	// which have none): the answers compared are not all empty.
	require.GreaterOrEqual(t, nonEmpty, 20)
}

// requireSame requires equal lists, nil and empty alike (the stores differ there).
func requireSame[T any](t *testing.T, a, b []T, what string) {
	t.Helper()
	if len(a) == 0 && len(b) == 0 {
		return
	}
	require.Equal(t, a, b, what)
}

// mergedTotal sums a type's merged stacks over all time.
func mergedTotal(t *testing.T, r store.ProfileReader, typ store.ProfileType) int64 {
	t.Helper()
	svs, err := r.MergeStacks(context.Background(), store.ProfileSelector{Type: typ.ID()})
	require.NoError(t, err)
	var n int64
	for _, sv := range svs {
		n += sv.Value
	}
	return n
}

func TestRunCopiesProfiles(t *testing.T) {
	ctx := context.Background()
	src, dst := openSide(t), openSide(t)
	var nProfiles, nSamples int
	for _, push := range profilePushes(80) {
		require.NoError(t, src.events.WriteProfiles(ctx, push))
		for _, p := range push {
			nProfiles++
			nSamples += len(p.Samples)
		}
	}
	var progress bytes.Buffer
	counts, err := Run(ctx, Source{Profiles: src.events}, Destination{Profiles: dst.events}, Options{Progress: &progress, ProfilePage: 25})
	require.NoError(t, err, progress.String())
	require.Len(t, counts, 1)
	require.Equal(t, store.SignalProfiles, counts[0].Signal)
	require.EqualValues(t, nProfiles, counts[0].Copied)
	// Samples of one stack and span in a profile are stored (and read back) as one.
	require.LessOrEqual(t, counts[0].Samples, int64(nSamples))
	require.Greater(t, counts[0].Samples, int64(nSamples*9/10))
	out := progress.String()
	require.Contains(t, out, "profiles: page 1 (profiles 1-26, "+base.Format(time.RFC3339Nano)+" .. ", "a page ends where the time changes")
	require.Contains(t, out, fmt.Sprintf("profiles: %d copied (%d samples) in ", nProfiles, counts[0].Samples))
	requireSameProfiles(t, src.events, dst.events)

	// Again: refused, nothing copied.
	_, err = Run(ctx, Source{Profiles: src.events}, Destination{Profiles: dst.events}, Options{})
	require.ErrorContains(t, err, "migrate profiles: checking the destination: the destination already holds profiles: nothing copied (--force")
	total := mergedTotal(t, dst.events, cpuNs)
	require.Equal(t, mergedTotal(t, src.events, cpuNs), total)
	// --force: stored twice.
	_, err = Run(ctx, Source{Profiles: src.events}, Destination{Profiles: dst.events}, Options{Force: true})
	require.NoError(t, err)
	require.Equal(t, 2*total, mergedTotal(t, dst.events, cpuNs))

	// A destination that fails (its disk guard refuses every write): the error names the
	// page, which ended at the first time change after 10 profiles.
	opts := duck.DefaultOptions()
	opts.MinFreeBytes = 1 << 60
	broken := openSideOpts(t, opts)
	_, err = Run(ctx, Source{Profiles: src.events}, Destination{Profiles: broken.events}, Options{ProfilePage: 10})
	var merr *Error
	require.ErrorAs(t, err, &merr)
	require.Equal(t, store.SignalProfiles, merr.Signal)
	require.True(t, strings.HasPrefix(merr.Position, "writing page 1 (profiles 1-11, "), merr.Position)
	require.ErrorIs(t, err, store.ErrDiskFull)
}
