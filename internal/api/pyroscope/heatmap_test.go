package pyroscope

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"github.com/stretchr/testify/require"
)

// heatmapSlots is a series' slots as time (minutes after t0) -> bucket -> count.
func heatmapSlots(t *testing.T, s *typesv1.HeatmapSeries, yMin []float64) map[int]map[int]int32 {
	t.Helper()
	out := map[int]map[int]int32{}
	for _, sl := range s.Slots {
		require.Equal(t, yMin, sl.YMin)
		require.Len(t, sl.Counts, len(yMin))
		m := map[int]int32{}
		for i, c := range sl.Counts {
			if c != 0 {
				m[i] = c
			}
		}
		out[int(time.UnixMilli(sl.Timestamp).Sub(t0)/time.Minute)] = m
	}
	return out
}

// SelectHeatmap as Grafana's data source calls it (HEATMAP_QUERY_TYPE_INDIVIDUAL): each
// profile's total counted in one of 20 buckets from the smallest total (worker's 2 s) to
// the largest (api's 4 s each minute), in the slot whose right edge is at or after it.
func TestSelectHeatmap(t *testing.T) {
	c, _ := client(t)
	ctx := context.Background()
	yMin := make([]float64, 20)
	for i := range yMin {
		yMin[i] = 2e9 + float64(i)*1e8
	}
	req := &querierv1.SelectHeatmapRequest{ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end, Step: 60,
		QueryType: querierv1.HeatmapQueryType_HEATMAP_QUERY_TYPE_INDIVIDUAL, ExemplarType: typesv1.ExemplarType_EXEMPLAR_TYPE_INDIVIDUAL}
	res, err := c.SelectHeatmap(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.Len(t, res.Msg.Series, 1)
	require.Empty(t, res.Msg.Series[0].Labels)
	require.Equal(t, map[int]map[int]int32{0: {19: 1}, 1: {0: 1, 19: 1}, 2: {19: 1}}, heatmapSlots(t, res.Msg.Series[0], yMin))

	req.GroupBy = []string{"service_name"}
	res, err = c.SelectHeatmap(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.Len(t, res.Msg.Series, 2)
	require.Equal(t, []*typesv1.LabelPair{{Name: "service_name", Value: "api"}}, res.Msg.Series[0].Labels)
	require.Equal(t, map[int]map[int]int32{0: {19: 1}, 1: {19: 1}, 2: {19: 1}}, heatmapSlots(t, res.Msg.Series[0], yMin))
	require.Equal(t, []*typesv1.LabelPair{{Name: "service_name", Value: "worker"}}, res.Msg.Series[1].Labels)
	require.Equal(t, map[int]map[int]int32{1: {0: 1}}, heatmapSlots(t, res.Msg.Series[1], yMin))

	// The largest by sum; slots of 5 minutes from start hold the three minutes in one.
	one := int64(1)
	req.Limit, req.Step = &one, 300
	res, err = c.SelectHeatmap(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.Len(t, res.Msg.Series, 1)
	require.Equal(t, "api", res.Msg.Series[0].Labels[0].Value)
	require.Equal(t, map[int]map[int]int32{0: {19: 1}, 5: {19: 2}}, heatmapSlots(t, res.Msg.Series[0], yMin))

	// A matcher on a private label that excludes the type selects nothing.
	req.LabelSelector = `{__name__="memory"}`
	res, err = c.SelectHeatmap(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	require.Empty(t, res.Msg.Series)
}

func TestSelectHeatmapBadRequests(t *testing.T) {
	c, _ := client(t)
	for name, req := range map[string]*querierv1.SelectHeatmapRequest{
		"no step":      {ProfileTypeID: cpu.ID(), Start: start, End: end},
		"tiny step":    {ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 0.0001},
		"many slots":   {ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 0.1},
		"bad type":     {ProfileTypeID: "cpu", Start: start, End: end, Step: 60},
		"bad selector": {ProfileTypeID: cpu.ID(), LabelSelector: "{", Start: start, End: end, Step: 60},
		"bad range":    {ProfileTypeID: cpu.ID(), Start: end, End: start, Step: 60},
		"bad kind":     {ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 60, QueryType: 7},
		"span exemplars": {ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 60,
			ExemplarType: typesv1.ExemplarType_EXEMPLAR_TYPE_SPAN},
		"bad exemplars": {ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 60, ExemplarType: 9},
	} {
		_, err := c.SelectHeatmap(context.Background(), connect.NewRequest(req))
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), name)
	}
}

func TestHeatmapBuckets(t *testing.T) {
	y := heatmapYMin(5, 5) // one value: buckets one unit wide, all from 5
	require.Len(t, y, 20)
	require.Equal(t, 19, valueBucket(5, y))
	y = heatmapYMin(0, 200)
	require.Equal(t, []float64{0, 10, 20}, y[:3])
	for v, want := range map[float64]int{0: 0, 9: 0, 10: 1, 199: 19, 200: 19} {
		require.Equal(t, want, valueBucket(v, y), v)
	}
	// Slots (start-step, start], (start, start+step], ...; times past end in the last.
	for ts, want := range map[int64]int64{1000: 1000, 1001: 61000, 61000: 61000, 61001: 121000, 200000: 181000} {
		require.Equal(t, want, slotEdge(ts, 1000, 180000, 60000), ts)
	}
}
