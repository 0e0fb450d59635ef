package pyroscope

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"connectrpc.com/connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"

	"github.com/loupe-dev/loupe/internal/api/profiles"
	"github.com/loupe-dev/loupe/internal/profile/flame"
	"github.com/loupe-dev/loupe/internal/store"
)

var errNoIDSelectors = errors.New("profile_id_selector and trace_id_selector are not supported by Loupe; select spans with span_selector")

func errFormat(f querierv1.ProfileFormat) error {
	return fmt.Errorf("format %s is not supported by Loupe (flame graph and pprof are)", f)
}

// SelectSeries answers the sum of the selected samples over time, one series per
// combination of the group_by labels, the largest first when limit is set.
func (q *Querier) SelectSeries(ctx context.Context, req *connect.Request[querierv1.SelectSeriesRequest]) (*connect.Response[querierv1.SelectSeriesResponse], error) {
	m := req.Msg
	if m.Aggregation != nil && *m.Aggregation != typesv1.TimeSeriesAggregationType_TIME_SERIES_AGGREGATION_TYPE_SUM {
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("aggregation %s is not supported by Loupe (sum is)", *m.Aggregation))
	}
	sel, _, ok, err := q.typedSelector(m.ProfileTypeID, m.LabelSelector, m.Start, m.End)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(m.Step) || m.Step <= 0 {
		return nil, invalid("step: %v is not a positive number of seconds", m.Step)
	}
	step := time.Duration(m.Step * float64(time.Second))
	if step < time.Millisecond {
		return nil, invalid("step: %v s is below a millisecond", m.Step)
	}
	if n := sel.End.Sub(sel.Start) / step; n > profiles.MaxPoints {
		return nil, invalid("step: %v s makes %d points, more than %d", m.Step, n, profiles.MaxPoints)
	}
	out := &querierv1.SelectSeriesResponse{}
	if !ok {
		return connect.NewResponse(out), nil
	}
	ss, err := q.reader.ProfileSeries(ctx, sel, m.GroupBy, step)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	if len(m.GroupBy) == 0 {
		ss = sumSeries(ss) // Pyroscope answers one series, the whole selection's
	}
	type summed struct {
		s   *typesv1.Series
		sum float64
	}
	all := make([]summed, 0, len(ss))
	for _, s := range ss {
		ps := &typesv1.Series{Labels: labelPairs(s.Labels), Points: make([]*typesv1.Point, 0, len(s.Points))}
		var sum float64
		for _, p := range s.Points {
			ps.Points = append(ps.Points, &typesv1.Point{Timestamp: p.Time.UnixMilli(), Value: float64(p.Value)})
			sum += float64(p.Value)
		}
		all = append(all, summed{ps, sum})
	}
	if m.Limit != nil && *m.Limit > 0 && int64(len(all)) > *m.Limit {
		slices.SortStableFunc(all, func(a, b summed) int { return cmp.Compare(b.sum, a.sum) })
		all = all[:*m.Limit]
	}
	for _, s := range all {
		out.Series = append(out.Series, s.s)
	}
	// In label order, whatever order the store listed them in.
	slices.SortFunc(out.Series, func(a, b *typesv1.Series) int { return cmp.Compare(pairsKey(a.Labels), pairsKey(b.Labels)) })
	return connect.NewResponse(out), nil
}

// Diff answers the two-sided flame graph of two selections.
func (q *Querier) Diff(ctx context.Context, req *connect.Request[querierv1.DiffRequest]) (*connect.Response[querierv1.DiffResponse], error) {
	l, r := req.Msg.Left, req.Msg.Right
	if l == nil || r == nil {
		return nil, invalid("left and right: both required")
	}
	left, _, _, err := q.merge(ctx, l.ProfileTypeID, l.LabelSelector, l.Start, l.End, l.SpanSelector, l.StackTraceSelector)
	if err != nil {
		return nil, err
	}
	right, _, _, err := q.merge(ctx, r.ProfileTypeID, r.LabelSelector, r.Start, r.End, r.SpanSelector, r.StackTraceSelector)
	if err != nil {
		return nil, err
	}
	fb := flame.BuildFlamebearerDiff(left, right, max(maxNodes(l.MaxNodes), maxNodes(r.MaxNodes)))
	return connect.NewResponse(&querierv1.DiffResponse{Flamegraph: &querierv1.FlameGraphDiff{
		Names: fb.Names, Levels: levels(fb.Levels), Total: fb.Total, MaxSelf: fb.MaxSelf,
		LeftTicks: fb.LeftTicks, RightTicks: fb.RightTicks,
	}}), nil
}

// GetProfileStats says whether any profile is stored, which Grafana's Profiles Drilldown
// app asks before showing its onboarding page. The oldest and newest times are not kept
// by the store and are left 0.
func (q *Querier) GetProfileStats(ctx context.Context, _ *connect.Request[typesv1.GetProfileStatsRequest]) (*connect.Response[typesv1.GetProfileStatsResponse], error) {
	ts, err := q.reader.ProfileTypes(ctx, time.Unix(0, 0).UTC(), q.now().Add(time.Hour))
	if err != nil {
		return nil, storeError(ctx, err)
	}
	return connect.NewResponse(&typesv1.GetProfileStatsResponse{DataIngested: len(ts) > 0}), nil
}

// sumSeries adds series into one without labels, point by point.
func sumSeries(ss []store.ProfileSeries) []store.ProfileSeries {
	if len(ss) == 0 {
		return nil
	}
	sums := map[int64]int64{}
	for _, s := range ss {
		for _, p := range s.Points {
			sums[p.Time.UnixNano()] += p.Value
		}
	}
	out := store.ProfileSeries{Labels: map[string]string{}}
	for ns, v := range sums {
		out.Points = append(out.Points, store.ProfilePoint{Time: time.Unix(0, ns).UTC(), Value: v})
	}
	slices.SortFunc(out.Points, func(a, b store.ProfilePoint) int { return a.Time.Compare(b.Time) })
	return []store.ProfileSeries{out}
}
