package storetest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// ProfileStore is what the profile cases need from a backend. Retention is tested when it
// also implements store.Retainer.
type ProfileStore interface {
	store.ProfileWriter
	store.ProfileReader
	io.Closer
}

// ProfileOpener opens a backend keeping its data under dir, as Opener.
type ProfileOpener func(t *testing.T, dir string) ProfileStore

const numProfiles = 60

// RunProfiles runs the profile cases of the suite.
func RunProfiles(t *testing.T, open ProfileOpener) {
	ps := makeProfiles(numProfiles)
	dir := t.TempDir()
	s := open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	// Three batches, each spanning days, to exercise multi-partition batches and stacks
	// seen again in later batches.
	require.NoError(t, s.WriteProfiles(ctx, ps[:20]))
	require.NoError(t, s.WriteProfiles(ctx, ps[20:41]))
	require.NoError(t, s.WriteProfiles(ctx, ps[41:]))

	t.Run("merge stacks", func(t *testing.T) { testMergeStacks(t, s, ps) })
	t.Run("types", func(t *testing.T) { testProfileTypes(t, s, ps) })
	t.Run("labels", func(t *testing.T) { testProfileLabels(t, s, ps) })
	t.Run("series", func(t *testing.T) { testProfileSeries(t, s, ps) })
	t.Run("spans with function", func(t *testing.T) { testSpansWithFunction(t, s, ps) })
	t.Run("bad selectors", func(t *testing.T) { testProfileBadSelectors(t, s) })
	t.Run("bad input", func(t *testing.T) { testProfileBadInput(t, open) })
	t.Run("concurrent writes", func(t *testing.T) { testProfileConcurrent(t, open) })
	t.Run("reopen", func(t *testing.T) { testProfileReopen(t, open, ps) })
	t.Run("retention", func(t *testing.T) { testProfileRetention(t, open, ps) })
}

// profileSelectors are the selections the read cases compare with the data.
func profileSelectors() []struct {
	name string
	sel  store.ProfileSelector
} {
	cpu := cpuType.ID()
	return []struct {
		name string
		sel  store.ProfileSelector
	}{
		{"all cpu", store.ProfileSelector{Type: cpu}},
		{"alloc", store.ProfileSelector{Type: allocType.ID()}},
		{"goroutines", store.ProfileSelector{Type: goroutineType.ID()}},
		{"unknown type", store.ProfileSelector{Type: "nope:x:count::"}},
		{"start", store.ProfileSelector{Type: cpu, Start: base.Add(30 * time.Hour)}},
		{"end", store.ProfileSelector{Type: cpu, End: base.Add(20 * time.Hour)}},
		{"range within a day", store.ProfileSelector{Type: cpu, Start: base.Add(25 * time.Hour), End: base.Add(30 * time.Hour)}},
		{"range across days", store.ProfileSelector{Type: cpu, Start: base.Add(20 * time.Hour), End: base.Add(50 * time.Hour)}},
		{"start inclusive", store.ProfileSelector{Type: cpu, Start: base.Add(70 * time.Minute), End: base.Add(71 * time.Minute)}},
		{"end exclusive", store.ProfileSelector{Type: cpu, Start: base, End: base.Add(70 * time.Minute)}},
		{"empty range", store.ProfileSelector{Type: cpu, Start: base.Add(-48 * time.Hour), End: base.Add(-24 * time.Hour)}},
		{"equal", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "service_name", "api")}}},
		{"not equal", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchNotEqual, "service_name", "api")}}},
		{"regexp", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchRegexp, "service_name", "a.*|w.b")}}},
		{"regexp anchored", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchRegexp, "service_name", "p")}}},
		{"not regexp", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchNotRegexp, "pod", "pod-[12]")}}},
		{"missing label equals empty", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "region", "")}}},
		{"missing label not equal", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchNotEqual, "region", "eu")}}},
		{"unknown label", store.ProfileSelector{Type: cpu, Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "nope", "x")}}},
		{"two matchers and range", store.ProfileSelector{Type: cpu, Start: base.Add(10 * time.Hour), End: base.Add(60 * time.Hour),
			Matchers: []*labels.Matcher{matcher(labels.MatchRegexp, "service_name", "api|db"), matcher(labels.MatchEqual, "region", "us")}}},
		{"one span", store.ProfileSelector{Type: cpu, SpanIDs: []string{testSpans[0].id}}},
		{"two spans", store.ProfileSelector{Type: cpu, SpanIDs: []string{testSpans[1].id, testSpans[2].id}}},
		{"unknown span", store.ProfileSelector{Type: cpu, SpanIDs: []string{"0123456789abcdef"}}},
		{"span and matcher", store.ProfileSelector{Type: cpu, SpanIDs: []string{testSpans[2].id},
			Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "service_name", "web")}}},
	}
}

func testMergeStacks(t *testing.T, s ProfileStore, ps []store.Profile) {
	for _, c := range profileSelectors() {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.MergeStacks(context.Background(), c.sel)
			require.NoError(t, err)
			want := wantMerge(ps, c.sel)
			require.Equal(t, want, gotMerge(got))
			require.Len(t, got, len(want), "each distinct stack once")
		})
	}
	// The exact frames, leaf first, with their files.
	got, err := s.MergeStacks(context.Background(), store.ProfileSelector{Type: cpuType.ID()})
	require.NoError(t, err)
	var found bool
	for _, sv := range got {
		if len(sv.Stack) == 6 && sv.Stack[0].Function == "main.(*T).String" {
			found = true
			require.Equal(t, stackOf(testStacks[6]), sv.Stack)
		}
	}
	require.True(t, found, "stack %v merged", testStacks[6])
	require.Greater(t, len(wantMerge(ps, store.ProfileSelector{Type: cpuType.ID()})), 5, "the data has several stacks")
}

func testProfileTypes(t *testing.T, s ProfileStore, ps []store.Profile) {
	ctx := context.Background()
	for _, r := range []struct{ start, end time.Time }{
		{time.Time{}, time.Time{}},
		{base, base.Add(72 * time.Hour)},
		{base.Add(3 * 70 * time.Minute), base.Add(3*70*time.Minute + time.Minute)}, // one alloc profile
		{base.Add(5 * time.Minute), base.Add(6 * time.Minute)},                     // none
	} {
		want := map[string]store.ProfileType{}
		for _, p := range ps {
			if selects(store.ProfileSelector{Start: r.start, End: r.end}, p) {
				want[p.Type.ID()] = p.Type
			}
		}
		got, err := s.ProfileTypes(ctx, r.start, r.end)
		require.NoError(t, err)
		var wantList []store.ProfileType
		for _, id := range slices.Sorted(maps.Keys(want)) {
			wantList = append(wantList, want[id])
		}
		require.Equal(t, wantList, got, "types in [%s, %s)", r.start, r.end)
	}
}

func testProfileLabels(t *testing.T, s ProfileStore, ps []store.Profile) {
	ctx := context.Background()
	sels := []store.ProfileSelector{
		{},
		{Type: cpuType.ID()},
		{Type: allocType.ID()},
		{Type: goroutineType.ID(), Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "service_name", "db")}},
		{Start: base.Add(3 * 70 * time.Minute), End: base.Add(3*70*time.Minute + time.Minute)},
		{Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "region", "")}},
		{Type: "nope:x:count::"},
	}
	for i, sel := range sels {
		names, values := map[string]bool{}, map[string]map[string]bool{}
		for _, p := range ps {
			if !selects(sel, p) {
				continue
			}
			for k, v := range p.Labels {
				names[k] = true
				if values[k] == nil {
					values[k] = map[string]bool{}
				}
				values[k][v] = true
			}
		}
		got, err := s.ProfileLabelNames(ctx, sel)
		require.NoError(t, err)
		require.Equal(t, sortedKeys(names), got, "names %d", i)
		for _, name := range []string{"service_name", "region", "pod", "nope"} {
			got, err := s.ProfileLabelValues(ctx, sel, name)
			require.NoError(t, err)
			require.Equal(t, sortedKeys(values[name]), got, "values of %s, selector %d", name, i)
		}
	}
}

// sortedKeys returns the keys of m sorted; nil for none, as the stores return no values.
func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

func testProfileSeries(t *testing.T, s ProfileStore, ps []store.Profile) {
	ctx := context.Background()
	step := 6 * time.Hour
	for _, c := range []struct {
		sel     store.ProfileSelector
		groupBy []string
	}{
		{store.ProfileSelector{Type: cpuType.ID(), Start: base, End: base.Add(72 * time.Hour)}, []string{"service_name"}},
		{store.ProfileSelector{Type: cpuType.ID(), Start: base.Add(time.Hour), End: base.Add(40 * time.Hour)}, []string{"region"}},
		{store.ProfileSelector{Type: cpuType.ID(), Start: base, End: base.Add(72 * time.Hour)}, []string{"service_name", "region"}},
		{store.ProfileSelector{Type: allocType.ID(), Start: base, End: base.Add(72 * time.Hour)}, nil},
		{store.ProfileSelector{Type: cpuType.ID(), Start: base, End: base.Add(72 * time.Hour), SpanIDs: []string{testSpans[0].id},
			Matchers: []*labels.Matcher{matcher(labels.MatchNotEqual, "service_name", "web")}}, []string{"service_name"}},
	} {
		want := map[string]map[int64]int64{}
		wantLabels := map[string]map[string]string{}
		for _, p := range ps {
			if !selects(c.sel, p) {
				continue
			}
			g := p.Labels
			if len(c.groupBy) > 0 {
				g = map[string]string{}
				for _, n := range c.groupBy {
					g[n] = p.Labels[n] // missing counts as ""
				}
			}
			key := fmt.Sprint(g)
			wantLabels[key] = g
			bucket := c.sel.Start.Add(p.Time.Sub(c.sel.Start) / step * step).UnixMilli()
			for _, smp := range p.Samples {
				if sampleSelected(c.sel, smp) {
					if want[key] == nil {
						want[key] = map[int64]int64{}
					}
					want[key][bucket] += smp.Value
				}
			}
		}
		got, err := s.ProfileSeries(ctx, c.sel, c.groupBy, step)
		require.NoError(t, err)
		gotMap := map[string]map[int64]int64{}
		for _, ser := range got {
			key := fmt.Sprint(ser.Labels)
			require.NotContains(t, gotMap, key, "one series per group")
			require.Equal(t, wantLabels[key], ser.Labels)
			gotMap[key] = map[int64]int64{}
			require.True(t, sort.SliceIsSorted(ser.Points, func(i, j int) bool { return ser.Points[i].Time.Before(ser.Points[j].Time) }))
			for _, pt := range ser.Points {
				require.Zero(t, pt.Time.Sub(c.sel.Start)%step, "bucket start")
				gotMap[key][pt.Time.UnixMilli()] = pt.Value
			}
		}
		require.Equal(t, want, gotMap, "group by %v", c.groupBy)
		require.NotEmpty(t, got)
	}
	_, err := s.ProfileSeries(ctx, store.ProfileSelector{Type: cpuType.ID()}, nil, 0)
	require.Error(t, err, "step 0")
}

func testSpansWithFunction(t *testing.T, s ProfileStore, ps []store.Profile) {
	ctx := context.Background()
	for _, c := range []struct {
		sel      store.ProfileSelector
		function string
		limit    int
	}{
		{store.ProfileSelector{Type: cpuType.ID()}, "main.work", 10},
		{store.ProfileSelector{Type: cpuType.ID()}, "runtime.mallocgc", 10},
		{store.ProfileSelector{Type: cpuType.ID()}, "main.work", 2},
		{store.ProfileSelector{Type: cpuType.ID(), Matchers: []*labels.Matcher{matcher(labels.MatchEqual, "service_name", "db")},
			Start: base.Add(20 * time.Hour)}, "main.handle", 10},
		{store.ProfileSelector{Type: allocType.ID()}, "main.main", 10},
		{store.ProfileSelector{Type: cpuType.ID()}, "main.nothing", 10},
	} {
		type acc struct {
			name string
			v    int64
		}
		bySpan := map[string]*acc{}
		for _, p := range ps {
			if !selects(c.sel, p) {
				continue
			}
			for _, smp := range p.Samples {
				if smp.SpanID == "" || !slices.ContainsFunc(smp.Stack, func(f store.Frame) bool { return f.Function == c.function }) {
					continue
				}
				if bySpan[smp.SpanID] == nil {
					bySpan[smp.SpanID] = &acc{name: smp.SpanName}
				}
				bySpan[smp.SpanID].v += smp.Value
			}
		}
		want := []store.SpanValue{}
		for id, a := range bySpan {
			want = append(want, store.SpanValue{SpanID: id, SpanName: a.name, Value: a.v})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].Value != want[j].Value {
				return want[i].Value > want[j].Value
			}
			return want[i].SpanID < want[j].SpanID
		})
		if len(want) > c.limit {
			want = want[:c.limit]
		}
		got, err := s.SpansWithFunction(ctx, c.sel, c.function, c.limit)
		require.NoError(t, err)
		if len(want) == 0 {
			require.Empty(t, got, "%s", c.function)
			continue
		}
		require.Equal(t, want, got, "%s", c.function)
	}
}

func testProfileBadSelectors(t *testing.T, s ProfileStore) {
	ctx := context.Background()
	_, err := s.MergeStacks(ctx, store.ProfileSelector{})
	require.Error(t, err, "no type")
	_, err = s.MergeStacks(ctx, store.ProfileSelector{Type: "cpu"})
	require.ErrorContains(t, err, "cpu", "malformed type")
	_, err = s.MergeStacks(ctx, store.ProfileSelector{Type: cpuType.ID(), SpanIDs: []string{"xyz"}})
	require.ErrorContains(t, err, "xyz", "malformed span id")
	_, err = s.SpansWithFunction(ctx, store.ProfileSelector{}, "main.work", 10)
	require.Error(t, err, "no type")
	_, err = s.ProfileSeries(ctx, store.ProfileSelector{}, nil, time.Minute)
	require.Error(t, err, "no type")
}

// oneProfile is a small valid profile at time at.
func oneProfile(service string, at time.Time) store.Profile {
	return store.Profile{
		Type: cpuType, Labels: map[string]string{"service_name": service}, Time: at, Duration: 10 * time.Second, Period: 10_000_000,
		Samples: []store.ProfileSample{{Stack: stackOf(testStacks[1]), Value: 30_000_000}, {Stack: stackOf(testStacks[0]), Value: 10_000_000}},
	}
}

func testProfileBadInput(t *testing.T, open ProfileOpener) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	good := oneProfile("good", base.Add(time.Hour))
	for _, c := range []struct {
		name   string
		mutate func(p *store.Profile)
		want   string // in the error
	}{
		{"no service_name", func(p *store.Profile) { delete(p.Labels, "service_name") }, "service_name"},
		{"empty service_name", func(p *store.Profile) { p.Labels["service_name"] = "" }, "service_name"},
		{"no type name", func(p *store.Profile) { p.Type.Name = "" }, "type"},
		{"no sample type", func(p *store.Profile) { p.Type.SampleType = "" }, "type"},
		{"no sample unit", func(p *store.Profile) { p.Type.SampleUnit = "" }, "type"},
		{"colon in type", func(p *store.Profile) { p.Type.Name = "a:b" }, "type"},
		{"bad label name", func(p *store.Profile) { p.Labels["a-b"] = "x" }, "a-b"},
		{"no time", func(p *store.Profile) { p.Time = time.Time{} }, "time"},
		{"bad span id", func(p *store.Profile) { p.Samples[0].SpanID = "not-hex" }, "not-hex"},
		{"empty stack", func(p *store.Profile) { p.Samples[1].Stack = nil }, "stack"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := oneProfile("bad", base.Add(26*time.Hour)) // another day than good
			bad.Labels = maps.Clone(bad.Labels)
			bad.Samples = slices.Clone(bad.Samples)
			c.mutate(&bad)
			err := s.WriteProfiles(ctx, []store.Profile{good, bad})
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "profile 1", "names the profile")
		})
	}
	// Nothing of the failed batches was stored, and the store still takes writes.
	types, err := s.ProfileTypes(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Empty(t, types)
	require.NoError(t, s.WriteProfiles(ctx, nil), "empty batch")
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{good}))
	got, err := s.MergeStacks(ctx, store.ProfileSelector{Type: cpuType.ID()})
	require.NoError(t, err)
	require.Equal(t, wantMerge([]store.Profile{good}, store.ProfileSelector{Type: cpuType.ID()}), gotMerge(got))
	names, err := s.ProfileLabelValues(ctx, store.ProfileSelector{}, "service_name")
	require.NoError(t, err)
	require.Equal(t, []string{"good"}, names)
}

func testProfileConcurrent(t *testing.T, open ProfileOpener) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const writers, batches = 6, 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []store.Profile
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				// Each writer's stacks share frames with the others' and have one of its
				// own, so that concurrent batches add the same new stacks and functions.
				own := store.Frame{Function: fmt.Sprintf("main.writer%d", w), File: "/src/w.go"}
				p := oneProfile(fmt.Sprintf("svc%d", w%3), base.Add(time.Duration(b*7+w)*time.Hour))
				p.Samples = append(p.Samples,
					store.ProfileSample{Stack: append([]store.Frame{own}, stackOf(testStacks[2])...), Value: int64(w + 1)},
					store.ProfileSample{Stack: []store.Frame{{Function: fmt.Sprintf("main.batch%d", b)}}, Value: int64(b + 1)})
				// A bad profile written at the same time fails alone.
				bad := oneProfile("", p.Time)
				if err := s.WriteProfiles(ctx, []store.Profile{bad}); err == nil {
					t.Error("profile without service_name stored")
				}
				if err := s.WriteProfiles(ctx, []store.Profile{p}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, all, writers*batches)
	sel := store.ProfileSelector{Type: cpuType.ID()}
	got, err := s.MergeStacks(ctx, sel)
	require.NoError(t, err)
	require.Equal(t, wantMerge(all, sel), gotMerge(got))
	require.Len(t, got, len(wantMerge(all, sel)))
}

func testProfileReopen(t *testing.T, open ProfileOpener, ps []store.Profile) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	require.NoError(t, s.WriteProfiles(ctx, ps[:30]))
	require.NoError(t, s.Close())
	s = open(t, dir)
	// After a restart, new profiles reuse the stacks and types stored before.
	require.NoError(t, s.WriteProfiles(ctx, ps[30:]))
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer s.Close()
	for _, c := range profileSelectors() {
		got, err := s.MergeStacks(ctx, c.sel)
		require.NoError(t, err)
		require.Equal(t, wantMerge(ps, c.sel), gotMerge(got), c.name)
		require.Len(t, got, len(wantMerge(ps, c.sel)), c.name)
	}
	names, err := s.ProfileLabelNames(ctx, store.ProfileSelector{})
	require.NoError(t, err)
	require.Equal(t, []string{"pod", "region", "service_name"}, names)
}

func testProfileRetention(t *testing.T, open ProfileOpener, ps []store.Profile) {
	s := open(t, t.TempDir())
	defer s.Close()
	r, ok := s.(store.Retainer)
	if !ok {
		t.Skip("store does not implement store.Retainer")
	}
	ctx := context.Background()
	require.NoError(t, s.WriteProfiles(ctx, ps))
	// The cutoff is inside the second day: the first day goes, the second stays whole.
	require.NoError(t, r.DropBefore(ctx, store.SignalProfiles, base.Add(30*time.Hour)))
	var kept []store.Profile
	for _, p := range ps {
		if !p.Time.Before(base.Add(24 * time.Hour)) {
			kept = append(kept, p)
		}
	}
	sel := store.ProfileSelector{Type: cpuType.ID()}
	got, err := s.MergeStacks(ctx, sel)
	require.NoError(t, err)
	require.Equal(t, wantMerge(kept, sel), gotMerge(got))
	// A late profile of the dropped day is stored again.
	late := oneProfile("late", base.Add(time.Hour))
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{late}))
	got, err = s.MergeStacks(ctx, store.ProfileSelector{Type: cpuType.ID(), End: base.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, wantMerge([]store.Profile{late}, sel), gotMerge(got))
}
