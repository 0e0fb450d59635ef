package pyroscope

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"connectrpc.com/connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"

	"github.com/loupe-dev/loupe/internal/api/profiles"
	"github.com/loupe-dev/loupe/internal/store"
)

// heatmapBuckets is how many value buckets a heatmap has, Pyroscope's default.
const heatmapBuckets = 20

var errSpanHeatmap = errors.New("span heatmaps (HEATMAP_QUERY_TYPE_SPAN) are not supported by Loupe; individual profiles (HEATMAP_QUERY_TYPE_INDIVIDUAL) are")

// SelectHeatmap answers the distribution of the selected profiles' totals over time, which
// Grafana's Pyroscope data source asks for when a query has "heatmap" on (feature toggle
// profilesHeatmap): for each slot of step, how many profiles had a total in each of 20
// value buckets spread evenly between the smallest and the largest total, one heatmap per
// combination of the group_by labels (the limit largest by sum when limit is set). As in
// Pyroscope, a slot's timestamp is its right edge: slots are (start-step, start],
// (start, start+step], ... A profile is one series' samples at one time.
//
// Exemplars are not answered: Pyroscope's name a profile by an ID that Loupe does not
// keep (exemplar_type is checked as Pyroscope checks it). Span heatmaps (each span's
// total) are Unimplemented: the store interface has no per-span totals over time.
func (q *Querier) SelectHeatmap(ctx context.Context, req *connect.Request[querierv1.SelectHeatmapRequest]) (*connect.Response[querierv1.SelectHeatmapResponse], error) {
	m := req.Msg
	switch m.QueryType {
	case querierv1.HeatmapQueryType_HEATMAP_QUERY_TYPE_UNSPECIFIED, querierv1.HeatmapQueryType_HEATMAP_QUERY_TYPE_INDIVIDUAL:
	case querierv1.HeatmapQueryType_HEATMAP_QUERY_TYPE_SPAN:
		return nil, connect.NewError(connect.CodeUnimplemented, errSpanHeatmap)
	default:
		return nil, invalid("query_type: unknown %s", m.QueryType)
	}
	// As Pyroscope checks them, though no exemplar is answered.
	switch m.ExemplarType {
	case typesv1.ExemplarType_EXEMPLAR_TYPE_UNSPECIFIED, typesv1.ExemplarType_EXEMPLAR_TYPE_NONE, typesv1.ExemplarType_EXEMPLAR_TYPE_INDIVIDUAL:
	case typesv1.ExemplarType_EXEMPLAR_TYPE_SPAN:
		return nil, invalid("exemplar_type: span exemplars are only available for the span query type")
	default:
		return nil, invalid("exemplar_type: unknown %s", m.ExemplarType)
	}
	sel, _, ok, err := q.typedSelector(m.ProfileTypeID, m.LabelSelector, m.Start, m.End)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(m.Step) || m.Step <= 0 {
		return nil, invalid("step: %v is not a positive number of seconds", m.Step)
	}
	stepMs := int64(m.Step * 1000)
	if stepMs < 1 {
		return nil, invalid("step: %v s is below a millisecond", m.Step)
	}
	if n := (m.End - m.Start) / stepMs; n > profiles.MaxPoints {
		return nil, invalid("step: %v s makes %d slots, more than %d", m.Step, n, profiles.MaxPoints)
	}
	out := &querierv1.SelectHeatmapResponse{}
	if !ok {
		return connect.NewResponse(out), nil
	}
	// Each series' total per distinct profile time: a bucket per nanosecond.
	ss, err := q.reader.ProfileSeries(ctx, sel, nil, time.Nanosecond)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	type group struct {
		labels []*typesv1.LabelPair
		key    string
		points []store.ProfilePoint
		sum    float64
	}
	groups := map[string]*group{}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range ss {
		ls := map[string]string{}
		for _, name := range m.GroupBy {
			ls[name] = s.Labels[name]
		}
		pairs := labelPairs(ls)
		key := pairsKey(pairs)
		g, ok := groups[key]
		if !ok {
			g = &group{labels: pairs, key: key}
			groups[key] = g
		}
		for _, p := range s.Points {
			g.points = append(g.points, p)
			g.sum += float64(p.Value)
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
	}
	if len(groups) == 0 {
		return connect.NewResponse(out), nil
	}
	all := make([]*group, 0, len(groups))
	for _, g := range groups {
		all = append(all, g)
	}
	if m.Limit != nil && *m.Limit > 0 && int64(len(all)) > *m.Limit {
		slices.SortFunc(all, func(a, b *group) int {
			if c := cmp.Compare(b.sum, a.sum); c != 0 {
				return c
			}
			return cmp.Compare(a.key, b.key)
		})
		all = all[:*m.Limit]
	}
	slices.SortFunc(all, func(a, b *group) int { return cmp.Compare(a.key, b.key) })
	buckets := heatmapYMin(lo, hi)
	for _, g := range all {
		slots := map[int64]*typesv1.HeatmapSlot{}
		for _, p := range g.points {
			ts := slotEdge(p.Time.UnixMilli(), m.Start, m.End, stepMs)
			sl, ok := slots[ts]
			if !ok {
				sl = &typesv1.HeatmapSlot{Timestamp: ts, YMin: buckets, Counts: make([]int32, len(buckets))}
				slots[ts] = sl
			}
			sl.Counts[valueBucket(float64(p.Value), buckets)]++
		}
		hs := &typesv1.HeatmapSeries{Labels: g.labels, Slots: make([]*typesv1.HeatmapSlot, 0, len(slots))}
		for _, ts := range slices.Sorted(maps.Keys(slots)) {
			hs.Slots = append(hs.Slots, slots[ts])
		}
		out.Series = append(out.Series, hs)
	}
	return connect.NewResponse(out), nil
}

// heatmapYMin returns the lower bounds of heatmapBuckets buckets spread evenly over
// [lo, hi], as Pyroscope makes them (integers; one unit wide when lo == hi).
func heatmapYMin(lo, hi int64) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	size := (float64(hi) - float64(lo)) / heatmapBuckets
	out := make([]float64, heatmapBuckets)
	for i := range out {
		out[i] = float64(lo + int64(float64(i)*size))
	}
	return out
}

// valueBucket is the index of the last bucket whose lower bound is at most v.
func valueBucket(v float64, yMin []float64) int {
	i, found := slices.BinarySearch(yMin, v)
	if found {
		// Buckets of equal bounds (a range narrower than their count): the last one.
		for i+1 < len(yMin) && yMin[i+1] == v {
			i++
		}
		return i
	}
	return max(i-1, 0)
}

// slotEdge is the right edge of the slot of step that holds ts: slots are
// (start-step, start], (start, start+step], ..., and times outside [start, end] count
// in the first or last.
func slotEdge(ts, start, end, step int64) int64 {
	// Times are not negative (msRange), and a profile's is at or after start.
	up := func(t int64) int64 {
		off := start % step
		if r := (t - off) % step; r != 0 {
			t += step - r
		}
		return t
	}
	return min(max(up(ts), start), up(end))
}
