// Package pyroscope serves the part of Pyroscope's query API (querier.v1.QuerierService,
// a Connect API) that Grafana's Pyroscope data source and the Profiles Drilldown app call,
// so that a Grafana data source pointed at Loupe's HTTP port shows Loupe's profiles. It
// uses Pyroscope's generated API code (github.com/grafana/pyroscope/api, Apache-2.0) and
// reads through store.ProfileReader; flame graphs are laid out by internal/profile/flame.
package pyroscope

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	googlev1 "github.com/grafana/pyroscope/api/gen/proto/go/google/v1"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/querier/v1/querierv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/internal/profile/flame"
	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// DefaultMaxNodes is the flame graph node limit when a request sets none, Pyroscope's
// default.
const DefaultMaxNodes = 8192

// maxRequestBytes bounds a request message; queries are small.
const maxRequestBytes = 1 << 20

// Querier implements querierv1connect.QuerierServiceHandler over a ProfileReader. Methods
// it does not implement (AnalyzeQuery) answer Connect's Unimplemented.
type Querier struct {
	querierv1connect.UnimplementedQuerierServiceHandler
	reader store.ProfileReader
	expr   querylimit.ExprLimits // bounds every label selector, as the other read APIs' queries
	logger *slog.Logger
	now    func() time.Time
}

// New returns the path to mount the service at ("/querier.v1.QuerierService/") and its
// handler. A nil logger discards logs; zero limits check nothing.
func New(r store.ProfileReader, expr querylimit.ExprLimits, logger *slog.Logger) (string, http.Handler) {
	return querierv1connect.NewQuerierServiceHandler(NewQuerier(r, expr, logger), connect.WithReadMaxBytes(maxRequestBytes))
}

// NewQuerier returns the service implementation.
func NewQuerier(r store.ProfileReader, expr querylimit.ExprLimits, logger *slog.Logger) *Querier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Querier{reader: r, expr: expr, logger: logger, now: time.Now}
}

var _ querierv1connect.QuerierServiceHandler = (*Querier)(nil)

// ProfileTypes lists the types with profiles in the range.
func (q *Querier) ProfileTypes(ctx context.Context, req *connect.Request[querierv1.ProfileTypesRequest]) (*connect.Response[querierv1.ProfileTypesResponse], error) {
	start, end, err := q.timeRange(req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	ts, err := q.reader.ProfileTypes(ctx, start, end)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	out := &querierv1.ProfileTypesResponse{ProfileTypes: make([]*typesv1.ProfileType, 0, len(ts))}
	for _, t := range ts {
		out.ProfileTypes = append(out.ProfileTypes, protoType(t))
	}
	return connect.NewResponse(out), nil
}

func protoType(t store.ProfileType) *typesv1.ProfileType {
	return &typesv1.ProfileType{ID: t.ID(), Name: t.Name, SampleType: t.SampleType, SampleUnit: t.SampleUnit,
		PeriodType: t.PeriodType, PeriodUnit: t.PeriodUnit}
}

// LabelNames lists the label names of the selected series, with Pyroscope's private
// labels (__name__, __profile_type__, ...) when any series is selected.
func (q *Querier) LabelNames(ctx context.Context, req *connect.Request[typesv1.LabelNamesRequest]) (*connect.Response[typesv1.LabelNamesResponse], error) {
	start, end, err := q.timeRange(req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	sels, err := q.selectors(ctx, req.Msg.Matchers, start, end, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, sel := range sels {
		names, err := q.reader.ProfileLabelNames(ctx, sel)
		if err != nil {
			return nil, storeError(ctx, err)
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	if len(seen) > 0 {
		for _, p := range privateLabels {
			seen[p.name] = true
		}
	}
	return connect.NewResponse(&typesv1.LabelNamesResponse{Names: slices.Sorted(maps.Keys(seen))}), nil
}

// LabelValues lists one label's values among the selected series.
func (q *Querier) LabelValues(ctx context.Context, req *connect.Request[typesv1.LabelValuesRequest]) (*connect.Response[typesv1.LabelValuesResponse], error) {
	if req.Msg.Name == "" {
		return nil, invalid("name: required")
	}
	start, end, err := q.timeRange(req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	of, private := privateLabel(req.Msg.Name)
	sels, err := q.selectors(ctx, req.Msg.Matchers, start, end, private)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, sel := range sels {
		if private {
			// The type's value counts if any series of that type is selected.
			names, err := q.reader.ProfileLabelNames(ctx, sel)
			if err != nil {
				return nil, storeError(ctx, err)
			}
			if t, _ := store.ParseProfileType(sel.Type); len(names) > 0 && of(t) != "" {
				seen[of(t)] = true
			}
			continue
		}
		values, err := q.reader.ProfileLabelValues(ctx, sel, req.Msg.Name)
		if err != nil {
			return nil, storeError(ctx, err)
		}
		for _, v := range values {
			seen[v] = true
		}
	}
	return connect.NewResponse(&typesv1.LabelValuesResponse{Names: slices.Sorted(maps.Keys(seen))}), nil
}

// Series lists the label sets of the selected series, each with its type's private
// labels; label_names, when given, keeps only those labels.
func (q *Querier) Series(ctx context.Context, req *connect.Request[querierv1.SeriesRequest]) (*connect.Response[querierv1.SeriesResponse], error) {
	start, end, err := q.timeRange(req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	sels, err := q.selectors(ctx, req.Msg.Matchers, start, end, true)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := &querierv1.SeriesResponse{}
	for _, sel := range sels {
		// One bucket over the whole range, no group_by: each distinct label set once.
		ss, err := q.reader.ProfileSeries(ctx, sel, nil, end.Sub(start))
		if err != nil {
			return nil, storeError(ctx, err)
		}
		t, _ := store.ParseProfileType(sel.Type)
		for _, s := range ss {
			ls := maps.Clone(s.Labels)
			if ls == nil {
				ls = map[string]string{}
			}
			for _, p := range privateLabels {
				if v := p.of(t); v != "" {
					ls[p.name] = v
				}
			}
			if len(req.Msg.LabelNames) > 0 {
				for k := range ls {
					if !slices.Contains(req.Msg.LabelNames, k) {
						delete(ls, k)
					}
				}
			}
			pairs := labelPairs(ls)
			if k := pairsKey(pairs); !seen[k] {
				seen[k] = true
				out.LabelsSet = append(out.LabelsSet, &typesv1.Labels{Labels: pairs})
			}
		}
	}
	slices.SortFunc(out.LabelsSet, func(a, b *typesv1.Labels) int { return strings.Compare(pairsKey(a.Labels), pairsKey(b.Labels)) })
	return connect.NewResponse(out), nil
}

// merge reads the merged stacks of one Select request.
func (q *Querier) merge(ctx context.Context, typeID, selector string, startMs, endMs int64, spans []string, sts *typesv1.StackTraceSelector) ([]store.StackValue, store.ProfileType, store.ProfileSelector, error) {
	sel, typ, ok, err := q.typedSelector(typeID, selector, startMs, endMs)
	if err != nil || !ok {
		return nil, typ, sel, err
	}
	if sel.SpanIDs, err = spanSelector(spans); err != nil {
		return nil, typ, sel, err
	}
	stacks, err := q.reader.MergeStacks(ctx, sel)
	if err != nil {
		return nil, typ, sel, storeError(ctx, err)
	}
	if sts != nil {
		var site []string
		for _, l := range sts.CallSite {
			site = append(site, l.Name)
		}
		stacks = callSite(stacks, site)
	}
	return stacks, typ, sel, nil
}

func maxNodes(n *int64) int {
	switch {
	case n == nil || *n == 0:
		return DefaultMaxNodes
	case *n < 0:
		return 0 // no limit, as Pyroscope reads -1
	case *n > 1<<24:
		return 1 << 24
	}
	return int(*n)
}

// SelectMergeStacktraces answers the merged flame graph in Pyroscope's levels form, or a
// pprof profile for PROFILE_FORMAT_PPROF.
func (q *Querier) SelectMergeStacktraces(ctx context.Context, req *connect.Request[querierv1.SelectMergeStacktracesRequest]) (*connect.Response[querierv1.SelectMergeStacktracesResponse], error) {
	m := req.Msg
	if len(m.ProfileIdSelector) > 0 || len(m.TraceIdSelector) > 0 {
		return nil, connect.NewError(connect.CodeUnimplemented, errNoIDSelectors)
	}
	switch m.Format {
	case querierv1.ProfileFormat_PROFILE_FORMAT_UNSPECIFIED, querierv1.ProfileFormat_PROFILE_FORMAT_FLAMEGRAPH, querierv1.ProfileFormat_PROFILE_FORMAT_PPROF:
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, errFormat(m.Format))
	}
	stacks, typ, sel, err := q.merge(ctx, m.ProfileTypeID, m.LabelSelector, m.Start, m.End, m.SpanSelector, m.StackTraceSelector)
	if err != nil {
		return nil, err
	}
	if m.Format == querierv1.ProfileFormat_PROFILE_FORMAT_PPROF {
		p, err := googleProfile(stacks, typ, sel)
		if err != nil {
			return nil, err
		}
		return connect.NewResponse(&querierv1.SelectMergeStacktracesResponse{Pprof: &querierv1.PprofProfile{Profile: p}}), nil
	}
	return connect.NewResponse(&querierv1.SelectMergeStacktracesResponse{Flamegraph: flameGraph(stacks, maxNodes(m.MaxNodes))}), nil
}

// SelectMergeSpanProfile is SelectMergeStacktraces for the samples of some spans, which
// Grafana calls for a trace's "Profiles for this span".
func (q *Querier) SelectMergeSpanProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeSpanProfileRequest]) (*connect.Response[querierv1.SelectMergeSpanProfileResponse], error) {
	m := req.Msg
	switch m.Format {
	case querierv1.ProfileFormat_PROFILE_FORMAT_UNSPECIFIED, querierv1.ProfileFormat_PROFILE_FORMAT_FLAMEGRAPH:
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, errFormat(m.Format))
	}
	if len(m.SpanSelector) == 0 {
		return nil, invalid("span_selector: at least one span ID required")
	}
	stacks, _, _, err := q.merge(ctx, m.ProfileTypeID, m.LabelSelector, m.Start, m.End, m.SpanSelector, nil)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&querierv1.SelectMergeSpanProfileResponse{Flamegraph: flameGraph(stacks, maxNodes(m.MaxNodes))}), nil
}

// SelectMergeProfile answers the merged stacks as a pprof profile.
func (q *Querier) SelectMergeProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeProfileRequest]) (*connect.Response[googlev1.Profile], error) {
	m := req.Msg
	if len(m.ProfileIdSelector) > 0 || len(m.TraceIdSelector) > 0 {
		return nil, connect.NewError(connect.CodeUnimplemented, errNoIDSelectors)
	}
	stacks, typ, sel, err := q.merge(ctx, m.ProfileTypeID, m.LabelSelector, m.Start, m.End, nil, m.StackTraceSelector)
	if err != nil {
		return nil, err
	}
	p, err := googleProfile(stacks, typ, sel)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(p), nil
}

// googleProfile converts the pprof export to Pyroscope's copy of the pprof message.
func googleProfile(stacks []store.StackValue, typ store.ProfileType, sel store.ProfileSelector) (*googlev1.Profile, error) {
	var buf bytes.Buffer
	if err := flame.Pprof(stacks, typ, sel.Start, sel.End).WriteUncompressed(&buf); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	p := &googlev1.Profile{}
	if err := proto.Unmarshal(buf.Bytes(), p); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return p, nil
}

func flameGraph(stacks []store.StackValue, maxNodes int) *querierv1.FlameGraph {
	fb := flame.BuildFlamebearer(stacks, maxNodes)
	return &querierv1.FlameGraph{Names: fb.Names, Levels: levels(fb.Levels), Total: fb.Total, MaxSelf: fb.MaxSelf}
}

func levels(ls [][]int64) []*querierv1.Level {
	out := make([]*querierv1.Level, len(ls))
	for i, l := range ls {
		out[i] = &querierv1.Level{Values: l}
	}
	return out
}

// labelPairs is ls in name order, without empty values: a series without a group_by
// label has it as "", which Pyroscope leaves out.
func labelPairs(ls map[string]string) []*typesv1.LabelPair {
	out := make([]*typesv1.LabelPair, 0, len(ls))
	for k, v := range ls {
		if v != "" {
			out = append(out, &typesv1.LabelPair{Name: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b *typesv1.LabelPair) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func pairsKey(ps []*typesv1.LabelPair) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Name + "\x00" + p.Value + "\x01")
	}
	return b.String()
}
