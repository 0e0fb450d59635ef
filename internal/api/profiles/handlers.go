package profiles

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/loupe-dev/loupe/internal/ingest/pprofscrape"
	"github.com/loupe-dev/loupe/internal/profile/flame"
	"github.com/loupe-dev/loupe/internal/store"
)

// typeJSON is a profile type as the UI lists it.
type typeJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	SampleType string `json:"sample_type"`
	SampleUnit string `json:"sample_unit"`
	PeriodType string `json:"period_type"`
	PeriodUnit string `json:"period_unit"`
}

func (a *API) types(r *http.Request) (any, error) {
	p, err := newParams(r.URL.RawQuery, "start", "end")
	if err != nil {
		return nil, err
	}
	start, end, err := p.timeRange("", a.now())
	if err != nil {
		return nil, err
	}
	ts, err := a.reader.ProfileTypes(r.Context(), start, end)
	if err != nil {
		return nil, err
	}
	out := make([]typeJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, typeJSON{ID: t.ID(), Name: t.Name, SampleType: t.SampleType, SampleUnit: t.SampleUnit,
			PeriodType: t.PeriodType, PeriodUnit: t.PeriodUnit})
	}
	return map[string]any{"types": out}, nil
}

// request reads the parameters of a route that selects series: type (optional unless
// typeRequired), query, start and end, then the route's extra ones, which the returned
// params hold for the handler to read.
func (a *API) request(r *http.Request, typeRequired bool, extra ...string) (params, store.ProfileSelector, store.ProfileType, error) {
	var sel store.ProfileSelector
	var typ store.ProfileType
	p, err := newParams(r.URL.RawQuery, append([]string{"type", "query", "start", "end"}, extra...)...)
	if err != nil {
		return p, sel, typ, err
	}
	if typeRequired {
		if typ, err = p.profileType("type"); err != nil {
			return p, sel, typ, err
		}
		sel.Type = typ.ID()
	} else if sel.Type, err = p.optionalType("type"); err != nil {
		return p, sel, typ, err
	}
	if sel.Matchers, err = p.matchers("query"); err != nil {
		return p, sel, typ, err
	}
	sel.Start, sel.End, err = p.timeRange("", a.now())
	return p, sel, typ, err
}

func (a *API) labelNames(r *http.Request) (any, error) {
	_, sel, _, err := a.request(r, false)
	if err != nil {
		return nil, err
	}
	names, err := a.reader.ProfileLabelNames(r.Context(), sel)
	if err != nil {
		return nil, err
	}
	return map[string]any{"names": nonNil(names)}, nil
}

func (a *API) labelValues(r *http.Request) (any, error) {
	_, sel, _, err := a.request(r, false)
	if err != nil {
		return nil, err
	}
	values, err := a.reader.ProfileLabelValues(r.Context(), sel, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"values": nonNil(values)}, nil
}

// defaultMaxNodes is the flame graph's node limit when the request sets none: enough for
// what a screen shows, small enough to send quickly.
const defaultMaxNodes = 2048

// graphJSON is the flamegraph answer.
type graphJSON struct {
	Type  string         `json:"type"`
	Unit  string         `json:"unit"`
	Total int64          `json:"total"`
	Root  *flame.Node    `json:"root"`
	Top   []flame.TopRow `json:"top"`
}

func (a *API) flamegraph(r *http.Request) (any, error) {
	p, sel, typ, err := a.request(r, true, "span_id", "max_nodes")
	if err != nil {
		return nil, err
	}
	if sel.SpanIDs, err = p.spanIDs(); err != nil {
		return nil, err
	}
	maxNodes, err := p.intParam("max_nodes", defaultMaxNodes, 1, 1<<20)
	if err != nil {
		return nil, err
	}
	stacks, err := a.reader.MergeStacks(r.Context(), sel)
	if err != nil {
		return nil, err
	}
	g := flame.Build(stacks, maxNodes)
	return graphJSON{Type: typ.ID(), Unit: typ.SampleUnit, Total: g.Total, Root: g.Root, Top: g.Top}, nil
}

// diffJSON is the diff answer.
type diffJSON struct {
	Type       string          `json:"type"`
	Unit       string          `json:"unit"`
	LeftTotal  int64           `json:"left_total"`
	RightTotal int64           `json:"right_total"`
	Root       *flame.DiffNode `json:"root"`
	Top        []flame.DiffRow `json:"top"`
}

func (a *API) diff(r *http.Request) (any, error) {
	p, err := newParams(r.URL.RawQuery, "type", "left_query", "left_start", "left_end",
		"right_query", "right_start", "right_end", "max_nodes")
	if err != nil {
		return nil, err
	}
	typ, err := p.profileType("type")
	if err != nil {
		return nil, err
	}
	var sides [2]store.ProfileSelector
	for i, side := range []string{"left_", "right_"} {
		sides[i].Type = typ.ID()
		if sides[i].Matchers, err = p.matchers(side + "query"); err != nil {
			return nil, err
		}
		if sides[i].Start, sides[i].End, err = p.timeRange(side, a.now()); err != nil {
			return nil, err
		}
	}
	maxNodes, err := p.intParam("max_nodes", defaultMaxNodes, 1, 1<<20)
	if err != nil {
		return nil, err
	}
	var stacks [2][]store.StackValue
	for i := range sides {
		if stacks[i], err = a.reader.MergeStacks(r.Context(), sides[i]); err != nil {
			return nil, err
		}
	}
	d := flame.BuildDiff(stacks[0], stacks[1], maxNodes)
	return diffJSON{Type: typ.ID(), Unit: typ.SampleUnit, LeftTotal: d.LeftTotal, RightTotal: d.RightTotal, Root: d.Root, Top: d.Top}, nil
}

// seriesJSON is one series: points are [unix ms, value].
type seriesJSON struct {
	Labels map[string]string `json:"labels"`
	Points [][2]int64        `json:"points"`
}

func (a *API) series(r *http.Request) (any, error) {
	p, sel, _, err := a.request(r, true, "step", "group_by")
	if err != nil {
		return nil, err
	}
	step, err := p.step(sel.Start, sel.End)
	if err != nil {
		return nil, err
	}
	ss, err := a.reader.ProfileSeries(r.Context(), sel, p.many("group_by"), step)
	if err != nil {
		return nil, err
	}
	out := make([]seriesJSON, 0, len(ss))
	for _, s := range ss {
		js := seriesJSON{Labels: s.Labels, Points: make([][2]int64, 0, len(s.Points))}
		if js.Labels == nil {
			js.Labels = map[string]string{}
		}
		for _, pt := range s.Points {
			js.Points = append(js.Points, [2]int64{pt.Time.UnixMilli(), pt.Value})
		}
		out = append(out, js)
	}
	// In label order, whatever order the store listed them in.
	slices.SortFunc(out, func(a, b seriesJSON) int { return labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels)) })
	return map[string]any{"series": out, "step_seconds": step.Seconds()}, nil
}

type spanJSON struct {
	SpanID   string `json:"span_id"`
	SpanName string `json:"span_name"`
	Value    int64  `json:"value"`
}

func (a *API) spans(r *http.Request) (any, error) {
	p, sel, _, err := a.request(r, true, "function", "limit")
	if err != nil {
		return nil, err
	}
	fn, err := p.one("function")
	if err != nil {
		return nil, err
	}
	if fn == "" {
		return nil, badParam("function", fmt.Errorf("required: the function's name as the flame graph shows it"))
	}
	limit, err := p.intParam("limit", 20, 1, 1000)
	if err != nil {
		return nil, err
	}
	vs, err := a.reader.SpansWithFunction(r.Context(), sel, fn, limit)
	if err != nil {
		return nil, err
	}
	out := make([]spanJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, spanJSON{SpanID: v.SpanID, SpanName: v.SpanName, Value: v.Value})
	}
	return map[string]any{"spans": out}, nil
}

// pprof answers the selection as a gzipped pprof file, which `go tool pprof URL` reads.
func (a *API) pprof(w http.ResponseWriter, r *http.Request) error {
	p, sel, typ, err := a.request(r, true, "span_id")
	if err != nil {
		return err
	}
	if sel.SpanIDs, err = p.spanIDs(); err != nil {
		return err
	}
	stacks, err := a.reader.MergeStacks(r.Context(), sel)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pb.gz"`,
		typ.Name, sel.End.UTC().Format("20060102T150405Z")))
	if err := flame.WritePprof(w, stacks, typ, sel.Start, sel.End); err != nil {
		a.logger.Debug("write pprof", "err", err) // the client went away: headers are sent
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// targetList answers the pull mode's targets: one per target and profile type, with its
// health, last scrape and last error.
func (a *API) targetList(r *http.Request) (any, error) {
	if _, err := newParams(r.URL.RawQuery); err != nil {
		return nil, err
	}
	targets := []pprofscrape.Target{}
	if a.targets != nil {
		targets = append(targets, a.targets()...)
	}
	return map[string]any{"targets": targets}, nil
}
