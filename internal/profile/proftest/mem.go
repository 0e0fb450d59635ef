// Package proftest has an in-memory store.ProfileReader for the tests of the profile APIs:
// small, obviously right, and independent of the DuckDB store the server uses.
package proftest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// Mem keeps profiles in a slice and answers every query by scanning it.
type Mem struct {
	mu sync.Mutex
	ps []store.Profile
	// Err, when set, is returned by every read (to test how APIs report store failures).
	Err error
}

var (
	_ store.ProfileReader = (*Mem)(nil)
	_ store.ProfileWriter = (*Mem)(nil)
)

// WriteProfiles appends ps.
func (m *Mem) WriteProfiles(_ context.Context, ps []store.Profile) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ps = append(m.ps, ps...)
	return nil
}

// each calls f for every profile sel selects; typ "" selects every type.
func (m *Mem) each(sel store.ProfileSelector, f func(p store.Profile)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Err != nil {
		return m.Err
	}
	for _, p := range m.ps {
		if sel.Type != "" && p.Type.ID() != sel.Type {
			continue
		}
		if p.Time.Before(sel.Start) || !p.Time.Before(sel.End) {
			continue
		}
		ok := true
		for _, mt := range sel.Matchers {
			if !mt.Matches(p.Labels[mt.Name]) {
				ok = false
				break
			}
		}
		if ok {
			f(p)
		}
	}
	return nil
}

func (m *Mem) samples(sel store.ProfileSelector, f func(p store.Profile, s store.ProfileSample)) error {
	return m.each(sel, func(p store.Profile) {
		for _, s := range p.Samples {
			if len(sel.SpanIDs) > 0 && !slices.Contains(sel.SpanIDs, s.SpanID) {
				continue
			}
			f(p, s)
		}
	})
}

// ProfileTypes implements store.ProfileReader.
func (m *Mem) ProfileTypes(_ context.Context, start, end time.Time) ([]store.ProfileType, error) {
	seen := map[string]store.ProfileType{}
	err := m.each(store.ProfileSelector{Start: start, End: end}, func(p store.Profile) { seen[p.Type.ID()] = p.Type })
	out := make([]store.ProfileType, 0, len(seen))
	for _, t := range seen {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.ProfileType) int { return strings.Compare(a.ID(), b.ID()) })
	return out, err
}

// ProfileLabelNames implements store.ProfileReader.
func (m *Mem) ProfileLabelNames(_ context.Context, sel store.ProfileSelector) ([]string, error) {
	seen := map[string]bool{}
	err := m.each(sel, func(p store.Profile) {
		for k := range p.Labels {
			seen[k] = true
		}
	})
	return slices.Sorted(maps.Keys(seen)), err
}

// ProfileLabelValues implements store.ProfileReader.
func (m *Mem) ProfileLabelValues(_ context.Context, sel store.ProfileSelector, name string) ([]string, error) {
	seen := map[string]bool{}
	err := m.each(sel, func(p store.Profile) {
		if v, ok := p.Labels[name]; ok && v != "" {
			seen[v] = true
		}
	})
	return slices.Sorted(maps.Keys(seen)), err
}

// MergeStacks implements store.ProfileReader.
func (m *Mem) MergeStacks(_ context.Context, sel store.ProfileSelector) ([]store.StackValue, error) {
	if sel.Type == "" {
		return nil, fmt.Errorf("profile type required")
	}
	sums := map[string]*store.StackValue{}
	var order []string
	err := m.samples(sel, func(_ store.Profile, s store.ProfileSample) {
		k := key(s.Stack)
		if sums[k] == nil {
			sums[k] = &store.StackValue{Stack: s.Stack}
			order = append(order, k)
		}
		sums[k].Value += s.Value
	})
	var out []store.StackValue
	for _, k := range order {
		if sums[k].Value != 0 {
			out = append(out, *sums[k])
		}
	}
	return out, err
}

// ProfileSeries implements store.ProfileReader.
func (m *Mem) ProfileSeries(_ context.Context, sel store.ProfileSelector, groupBy []string, step time.Duration) ([]store.ProfileSeries, error) {
	if sel.Type == "" || step <= 0 {
		return nil, fmt.Errorf("profile type and step required")
	}
	type series struct {
		labels  map[string]string
		buckets map[int64]int64
	}
	all := map[string]*series{}
	err := m.samples(sel, func(p store.Profile, s store.ProfileSample) {
		ls := p.Labels
		if len(groupBy) > 0 {
			ls = map[string]string{}
			for _, g := range groupBy {
				ls[g] = p.Labels[g]
			}
		}
		k := labelKey(ls)
		if all[k] == nil {
			all[k] = &series{labels: ls, buckets: map[int64]int64{}}
		}
		all[k].buckets[int64(p.Time.Sub(sel.Start)/step)] += s.Value
	})
	var out []store.ProfileSeries
	for _, k := range slices.Sorted(maps.Keys(all)) {
		s := all[k]
		ps := store.ProfileSeries{Labels: s.labels}
		for _, i := range slices.Sorted(maps.Keys(s.buckets)) {
			ps.Points = append(ps.Points, store.ProfilePoint{Time: sel.Start.Add(time.Duration(i) * step), Value: s.buckets[i]})
		}
		out = append(out, ps)
	}
	return out, err
}

// SpansWithFunction implements store.ProfileReader.
func (m *Mem) SpansWithFunction(_ context.Context, sel store.ProfileSelector, function string, limit int) ([]store.SpanValue, error) {
	sums := map[string]*store.SpanValue{}
	err := m.samples(sel, func(_ store.Profile, s store.ProfileSample) {
		if s.SpanID == "" || !slices.ContainsFunc(s.Stack, func(f store.Frame) bool { return f.Function == function }) {
			return
		}
		if sums[s.SpanID] == nil {
			sums[s.SpanID] = &store.SpanValue{SpanID: s.SpanID, SpanName: s.SpanName}
		}
		sums[s.SpanID].Value += s.Value
	})
	var out []store.SpanValue
	for _, v := range sums {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b store.SpanValue) int {
		if a.Value != b.Value {
			if a.Value > b.Value {
				return -1
			}
			return 1
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func key(stack []store.Frame) string {
	var b strings.Builder
	for _, f := range stack {
		b.WriteString(f.Function + "\x00" + f.File + "\x01")
	}
	return b.String()
}

func labelKey(ls map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		b.WriteString(k + "\x00" + ls[k] + "\x01")
	}
	return b.String()
}
