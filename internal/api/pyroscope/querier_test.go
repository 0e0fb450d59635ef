package pyroscope

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/querier/v1/querierv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/profile/proftest"
	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

var (
	cpu   = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	alloc = store.ProfileType{Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}
	t0    = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	start = t0.Add(-time.Hour).UnixMilli()
	end   = t0.Add(time.Hour).UnixMilli()
)

func frames(rootFirst ...string) []store.Frame {
	var out []store.Frame
	for i := len(rootFirst) - 1; i >= 0; i-- {
		out = append(out, store.Frame{Function: rootFirst[i]})
	}
	return out
}

// client starts the service on a real HTTP server, mounted as the server mounts it, and
// returns the generated client Grafana's data source uses (NewQuerierServiceClient with
// the data source's URL and its HTTP client).
func client(t *testing.T) (querierv1connect.QuerierServiceClient, *proftest.Mem) {
	m := &proftest.Mem{}
	require.NoError(t, m.WriteProfiles(context.Background(), testProfiles()))
	return serve(t, m), m
}

// serve mounts the service over r on a real HTTP server and returns Grafana's client.
func serve(t *testing.T, r store.ProfileReader) querierv1connect.QuerierServiceClient {
	mux := http.NewServeMux()
	path, h := New(r, querylimit.DefaultExprLimits(), nil)
	require.Equal(t, "/querier.v1.QuerierService/", path)
	mux.Handle(path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return querierv1connect.NewQuerierServiceClient(srv.Client(), srv.URL)
}

func testProfiles() []store.Profile {
	var ps []store.Profile
	for i := range 3 {
		ps = append(ps, store.Profile{Type: cpu, Labels: map[string]string{"service_name": "api", "env": "prod"},
			Time: t0.Add(time.Duration(i) * time.Minute), Samples: []store.ProfileSample{
				{Stack: frames("main.main", "main.work"), Value: 3e9, SpanID: "00000000000000a1"},
				{Stack: frames("main.main", "main.idle"), Value: 1e9},
			}})
	}
	ps = append(ps,
		store.Profile{Type: cpu, Labels: map[string]string{"service_name": "worker"}, Time: t0.Add(time.Minute),
			Samples: []store.ProfileSample{{Stack: frames("main.main", "main.parse"), Value: 2e9}}},
		store.Profile{Type: alloc, Labels: map[string]string{"service_name": "api"}, Time: t0,
			Samples: []store.ProfileSample{{Stack: frames("main.main", "main.alloc"), Value: 1 << 20}}})
	return ps
}

func TestProfileTypes(t *testing.T) {
	c, _ := client(t)
	res, err := c.ProfileTypes(context.Background(), connect.NewRequest(&querierv1.ProfileTypesRequest{Start: start, End: end}))
	require.NoError(t, err)
	var ids []string
	for _, pt := range res.Msg.ProfileTypes {
		ids = append(ids, pt.ID)
		// Grafana labels a type "Name - SampleType".
		require.NotEmpty(t, pt.Name)
		require.NotEmpty(t, pt.SampleType)
	}
	require.Equal(t, []string{alloc.ID(), cpu.ID()}, ids)

	// Before the data: none, and an empty list (Grafana turns nil into []).
	res, err = c.ProfileTypes(context.Background(), connect.NewRequest(&querierv1.ProfileTypesRequest{Start: 1, End: 2}))
	require.NoError(t, err)
	require.Empty(t, res.Msg.ProfileTypes)
}

func TestLabelNamesAndValues(t *testing.T) {
	c, _ := client(t)
	ctx := context.Background()
	// Grafana sends its query's label selector as the only matcher; "{}" when empty.
	names, err := c.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{"{}"}, Start: start, End: end}))
	require.NoError(t, err)
	require.Contains(t, names.Msg.Names, "service_name")
	require.Contains(t, names.Msg.Names, "env")
	require.Contains(t, names.Msg.Names, "__profile_type__") // Grafana hides names starting "__"

	names, err = c.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{`{service_name="worker"}`}, Start: start, End: end}))
	require.NoError(t, err)
	require.NotContains(t, names.Msg.Names, "env")

	vals, err := c.LabelValues(ctx, connect.NewRequest(&typesv1.LabelValuesRequest{Name: "service_name", Matchers: []string{"{}"}, Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, []string{"api", "worker"}, vals.Msg.Names)

	// Matchers on the private labels select types: only api has memory profiles.
	vals, err = c.LabelValues(ctx, connect.NewRequest(&typesv1.LabelValuesRequest{Name: "service_name",
		Matchers: []string{`{__profile_type__="` + alloc.ID() + `"}`}, Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, []string{"api"}, vals.Msg.Names)
	vals, err = c.LabelValues(ctx, connect.NewRequest(&typesv1.LabelValuesRequest{Name: "__name__",
		Matchers: []string{`{service_name="worker"}`}, Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, []string{"process_cpu"}, vals.Msg.Names)

	_, err = c.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{`{service_name=`}, Start: start, End: end}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	_, err = c.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{`{a="` + strings.Repeat("x", 70000) + `"}`}, Start: start, End: end}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	require.Contains(t, err.Error(), "query.max_query_length")
}

func TestSeries(t *testing.T) {
	c, _ := client(t)
	res, err := c.Series(context.Background(), connect.NewRequest(&querierv1.SeriesRequest{
		Matchers: []string{`{service_name="api"}`}, LabelNames: []string{"service_name", "__profile_type__"}, Start: start, End: end}))
	require.NoError(t, err)
	var got []string
	for _, ls := range res.Msg.LabelsSet {
		got = append(got, pairsKey(ls.Labels))
	}
	require.Equal(t, []string{
		"__profile_type__\x00" + alloc.ID() + "\x01service_name\x00api\x01",
		"__profile_type__\x00" + cpu.ID() + "\x01service_name\x00api\x01",
	}, got)
}

// tree is a flame graph node decoded from levels the way Grafana's data source does
// (levelsToTree): offsets relative to the previous node's end in the row, a node's parent
// the node of the row above whose span holds it.
type tree struct {
	name     string
	start    int64
	total    int64
	self     int64
	children []*tree
}

func decode(t *testing.T, fg *querierv1.FlameGraph) *tree {
	t.Helper()
	require.NotEmpty(t, fg.Levels)
	root := &tree{name: fg.Names[fg.Levels[0].Values[0]], total: fg.Levels[0].Values[1], self: fg.Levels[0].Values[2]}
	parents := []*tree{root}
	for _, lvl := range fg.Levels[1:] {
		require.Zero(t, len(lvl.Values)%4)
		var next []*tree
		x := int64(0)
		p := 0
		for i := 0; i < len(lvl.Values); i += 4 {
			n := &tree{start: x + lvl.Values[i], total: lvl.Values[i+1], self: lvl.Values[i+2], name: fg.Names[lvl.Values[i+3]]}
			x = n.start + n.total
			for p < len(parents) && parents[p].start+parents[p].total <= n.start {
				p++
			}
			require.Less(t, p, len(parents), "node %s has no parent", n.name)
			parents[p].children = append(parents[p].children, n)
			next = append(next, n)
		}
		parents = next
	}
	return root
}

func (n *tree) String() string {
	var b strings.Builder
	var walk func(n *tree, d int)
	walk = func(n *tree, d int) {
		b.WriteString(strings.Repeat("  ", d) + n.name + " " + itoa(n.self) + "/" + itoa(n.total) + "\n")
		for _, c := range n.children {
			walk(c, d+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func itoa(v int64) string { return time.Duration(v).String() }

func TestSelectMergeStacktraces(t *testing.T) {
	c, _ := client(t)
	ctx := context.Background()
	// As Grafana's GetProfile sends it.
	maxNodes := int64(16384)
	res, err := c.SelectMergeStacktraces(ctx, &connect.Request[querierv1.SelectMergeStacktracesRequest]{
		Msg: &querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpu.ID(), LabelSelector: `{service_name="api"}`,
			Start: start, End: end, MaxNodes: &maxNodes}})
	require.NoError(t, err)
	fg := res.Msg.Flamegraph
	require.EqualValues(t, 12e9, fg.Total)
	require.EqualValues(t, 9e9, fg.MaxSelf)
	require.Equal(t, "total", fg.Names[0])
	require.Equal(t, "total 0s/12s\n  main.main 0s/12s\n    main.work 9s/9s\n    main.idle 3s/3s\n", decode(t, fg).String())

	// Every service.
	res, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, "total 0s/14s\n  main.main 0s/14s\n    main.work 9s/9s\n    main.idle 3s/3s\n    main.parse 2s/2s\n", decode(t, res.Msg.Flamegraph).String())

	// A type excluded by a private matcher: an empty graph, not an error.
	res, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: `{__name__="memory"}`, Start: start, End: end}))
	require.NoError(t, err)
	require.EqualValues(t, 0, res.Msg.Flamegraph.Total)

	// The pprof format, as the Profiles Drilldown app's export asks for it.
	res, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: `{service_name="api"}`, Start: start, End: end, Format: querierv1.ProfileFormat_PROFILE_FORMAT_PPROF}))
	require.NoError(t, err)
	p := res.Msg.Pprof.Profile
	require.Len(t, p.Sample, 2)
	require.Equal(t, "cpu", p.StringTable[p.SampleType[0].Type])

	// Bad input is InvalidArgument, naming the field.
	_, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{ProfileTypeID: "cpu", Start: start, End: end}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	require.Contains(t, err.Error(), "profile_typeID")
	_, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpu.ID(), Start: end, End: start}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	_, err = c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpu.ID(), Start: start, End: 1 << 62}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	require.Contains(t, err.Error(), "end")
	_, err = c.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: -1, End: end}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
}

func TestSelectMergeStacktracesMaxNodes(t *testing.T) {
	c, _ := client(t)
	one := int64(2)
	res, err := c.SelectMergeStacktraces(context.Background(), connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: start, End: end, MaxNodes: &one}))
	require.NoError(t, err)
	require.Equal(t, "total 0s/14s\n  main.main 0s/14s\n    main.work 9s/9s\n    (other) 5s/5s\n", decode(t, res.Msg.Flamegraph).String())
}

func TestSelectMergeSpanProfile(t *testing.T) {
	c, _ := client(t)
	//lint:ignore SA1019 deprecated, but what Grafana's data source calls for a span's profile
	res, err := c.SelectMergeSpanProfile(context.Background(), &connect.Request[querierv1.SelectMergeSpanProfileRequest]{
		Msg: &querierv1.SelectMergeSpanProfileRequest{ProfileTypeID: cpu.ID(), LabelSelector: `{service_name="api"}`,
			SpanSelector: []string{"00000000000000a1"}, Start: start, End: end}})
	require.NoError(t, err)
	require.Equal(t, "total 0s/9s\n  main.main 0s/9s\n    main.work 9s/9s\n", decode(t, res.Msg.Flamegraph).String())

	//lint:ignore SA1019 as above
	_, err = c.SelectMergeSpanProfile(context.Background(), connect.NewRequest(&querierv1.SelectMergeSpanProfileRequest{
		ProfileTypeID: cpu.ID(), SpanSelector: []string{"not-a-span"}, Start: start, End: end}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	// The newer form: SelectMergeStacktraces with span_selector.
	res2, err := c.SelectMergeStacktraces(context.Background(), connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: "{}", SpanSelector: []string{"00000000000000A1"}, Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, "total 0s/9s\n  main.main 0s/9s\n    main.work 9s/9s\n", decode(t, res2.Msg.Flamegraph).String())
}

func TestSelectSeries(t *testing.T) {
	c, _ := client(t)
	// As Grafana's GetSeries sends it: step in seconds, group_by, limit.
	limit := int64(1)
	res, err := c.SelectSeries(context.Background(), connect.NewRequest(&querierv1.SelectSeriesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: t0.UnixMilli(), End: t0.Add(3 * time.Minute).UnixMilli(),
		Step: 60, GroupBy: []string{"service_name"}, Limit: &limit, ExemplarType: typesv1.ExemplarType_EXEMPLAR_TYPE_NONE}))
	require.NoError(t, err)
	require.Len(t, res.Msg.Series, 1) // api, the larger
	s := res.Msg.Series[0]
	require.Equal(t, "service_name", s.Labels[0].Name)
	require.Equal(t, "api", s.Labels[0].Value)
	require.Len(t, s.Points, 3)
	for i, p := range s.Points {
		require.Equal(t, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), p.Timestamp)
		require.Equal(t, 4e9, p.Value)
	}

	// Without group_by: one series, the sum of every selected series, as Pyroscope answers.
	res, err = c.SelectSeries(context.Background(), connect.NewRequest(&querierv1.SelectSeriesRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: "{}", Start: t0.UnixMilli(), End: t0.Add(3 * time.Minute).UnixMilli(), Step: 60}))
	require.NoError(t, err)
	require.Len(t, res.Msg.Series, 1)
	require.Empty(t, res.Msg.Series[0].Labels)
	var values []float64
	for _, p := range res.Msg.Series[0].Points {
		values = append(values, p.Value)
	}
	require.Equal(t, []float64{4e9, 6e9, 4e9}, values) // worker's 2 s in the second minute

	_, err = c.SelectSeries(context.Background(), connect.NewRequest(&querierv1.SelectSeriesRequest{
		ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 0}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	require.Contains(t, err.Error(), "step")
}

func TestSelectMergeProfile(t *testing.T) {
	c, _ := client(t)
	//lint:ignore SA1019 deprecated, still served for older clients
	res, err := c.SelectMergeProfile(context.Background(), connect.NewRequest(&querierv1.SelectMergeProfileRequest{
		ProfileTypeID: cpu.ID(), LabelSelector: `{service_name="worker"}`, Start: start, End: end}))
	require.NoError(t, err)
	p := res.Msg
	require.Len(t, p.Sample, 1)
	require.Equal(t, []int64{2e9}, p.Sample[0].Value)
	leaf := p.Location[p.Sample[0].LocationId[0]-1]
	fn := p.Function[leaf.Line[0].FunctionId-1]
	require.Equal(t, "main.parse", p.StringTable[fn.Name])
}

func TestDiff(t *testing.T) {
	c, _ := client(t)
	req := func(sel string) *querierv1.SelectMergeStacktracesRequest {
		return &querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpu.ID(), LabelSelector: sel, Start: start, End: end}
	}
	res, err := c.Diff(context.Background(), connect.NewRequest(&querierv1.DiffRequest{Left: req(`{service_name="api"}`), Right: req(`{}`)}))
	require.NoError(t, err)
	fg := res.Msg.Flamegraph
	require.EqualValues(t, 12e9, fg.LeftTicks)
	require.EqualValues(t, 14e9, fg.RightTicks)
	require.Equal(t, "total", fg.Names[0])
	require.Equal(t, []int64{0, 12e9, 0, 0, 14e9, 0, 0}, fg.Levels[0].Values)
	require.Len(t, fg.Levels[2].Values, 3*7) // work, idle, parse
}

func TestUnsupported(t *testing.T) {
	c, _ := client(t)
	_, err := c.SelectHeatmap(context.Background(), connect.NewRequest(&querierv1.SelectHeatmapRequest{ProfileTypeID: cpu.ID(), Start: start, End: end, Step: 15,
		QueryType: querierv1.HeatmapQueryType_HEATMAP_QUERY_TYPE_SPAN}))
	require.Equal(t, connect.CodeUnimplemented, connect.CodeOf(err))
	require.ErrorContains(t, err, "HEATMAP_QUERY_TYPE_SPAN")
	_, err = c.SelectMergeStacktraces(context.Background(), connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: cpu.ID(), Start: start, End: end, Format: querierv1.ProfileFormat_PROFILE_FORMAT_DOT}))
	require.Equal(t, connect.CodeUnimplemented, connect.CodeOf(err))

	stats, err := c.GetProfileStats(context.Background(), connect.NewRequest(&typesv1.GetProfileStatsRequest{}))
	require.NoError(t, err)
	require.True(t, stats.Msg.DataIngested)
}
