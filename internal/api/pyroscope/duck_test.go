package pyroscope

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

// TestDuckStoreAnswersAsMem: the calls Grafana's data source makes answer the same over the
// real DuckDB store as over the in-memory reader the other tests check by hand.
func TestDuckStoreAnswersAsMem(t *testing.T) {
	st, err := duck.Open(filepath.Join(t.TempDir(), "p.duckdb"), duck.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteProfiles(context.Background(), testProfiles()))
	onDuck := serve(t, st)
	onMem, _ := client(t)
	ctx := context.Background()
	two := int64(2)
	limit := int64(1)
	for name, call := range map[string]func(c clientT) (proto.Message, error){
		"ProfileTypes": func(c clientT) (proto.Message, error) {
			r, err := c.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: start, End: end}))
			return msg(r, err)
		},
		"LabelNames": func(c clientT) (proto.Message, error) {
			r, err := c.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{`{service_name="api"}`}, Start: start, End: end}))
			return msg(r, err)
		},
		"LabelValues": func(c clientT) (proto.Message, error) {
			r, err := c.LabelValues(ctx, connect.NewRequest(&typesv1.LabelValuesRequest{Name: "service_name", Matchers: []string{`{__name__="process_cpu"}`}, Start: start, End: end}))
			return msg(r, err)
		},
		"Series": func(c clientT) (proto.Message, error) {
			r, err := c.Series(ctx, connect.NewRequest(&querierv1.SeriesRequest{Matchers: []string{"{}"}, Start: start, End: end}))
			return msg(r, err)
		},
		"SelectMergeStacktraces": func(c clientT) (proto.Message, error) {
			r, err := c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpu.ID(), LabelSelector: `{env!="dev"}`, Start: start, End: end}))
			return msg(r, err)
		},
		"SelectMergeStacktraces max_nodes": func(c clientT) (proto.Message, error) {
			r, err := c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpu.ID(), Start: start, End: end, MaxNodes: &two}))
			return msg(r, err)
		},
		"SelectMergeStacktraces span": func(c clientT) (proto.Message, error) {
			r, err := c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpu.ID(), Start: start, End: end, SpanSelector: []string{"00000000000000a1"}}))
			return msg(r, err)
		},
		"SelectSeries": func(c clientT) (proto.Message, error) {
			r, err := c.SelectSeries(ctx, connect.NewRequest(&querierv1.SelectSeriesRequest{
				ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end, Step: 60, GroupBy: []string{"service_name"}, Limit: &limit}))
			return msg(r, err)
		},
		"SelectSeries all": func(c clientT) (proto.Message, error) {
			r, err := c.SelectSeries(ctx, connect.NewRequest(&querierv1.SelectSeriesRequest{
				ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end, Step: 30}))
			return msg(r, err)
		},
		"SelectHeatmap": func(c clientT) (proto.Message, error) {
			r, err := c.SelectHeatmap(ctx, connect.NewRequest(&querierv1.SelectHeatmapRequest{
				ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end, Step: 60, GroupBy: []string{"service_name"}}))
			return msg(r, err)
		},
		"Diff": func(c clientT) (proto.Message, error) {
			side := func(sel string) *querierv1.SelectMergeStacktracesRequest {
				return &querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpu.ID(), LabelSelector: sel, Start: start, End: end}
			}
			r, err := c.Diff(ctx, connect.NewRequest(&querierv1.DiffRequest{Left: side(`{service_name="api"}`), Right: side("{}")}))
			return msg(r, err)
		},
	} {
		want, err := call(onMem)
		require.NoError(t, err, name)
		got, err := call(onDuck)
		require.NoError(t, err, name)
		require.True(t, proto.Equal(want, got), "%s:\nmem  %v\nduck %v", name, want, got)
	}
}

type clientT = interface {
	ProfileTypes(context.Context, *connect.Request[querierv1.ProfileTypesRequest]) (*connect.Response[querierv1.ProfileTypesResponse], error)
	LabelNames(context.Context, *connect.Request[typesv1.LabelNamesRequest]) (*connect.Response[typesv1.LabelNamesResponse], error)
	LabelValues(context.Context, *connect.Request[typesv1.LabelValuesRequest]) (*connect.Response[typesv1.LabelValuesResponse], error)
	Series(context.Context, *connect.Request[querierv1.SeriesRequest]) (*connect.Response[querierv1.SeriesResponse], error)
	SelectMergeStacktraces(context.Context, *connect.Request[querierv1.SelectMergeStacktracesRequest]) (*connect.Response[querierv1.SelectMergeStacktracesResponse], error)
	SelectSeries(context.Context, *connect.Request[querierv1.SelectSeriesRequest]) (*connect.Response[querierv1.SelectSeriesResponse], error)
	Diff(context.Context, *connect.Request[querierv1.DiffRequest]) (*connect.Response[querierv1.DiffResponse], error)
	SelectHeatmap(context.Context, *connect.Request[querierv1.SelectHeatmapRequest]) (*connect.Response[querierv1.SelectHeatmapResponse], error)
}

func msg[T any](r *connect.Response[T], err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	return any(r.Msg).(proto.Message), nil
}
