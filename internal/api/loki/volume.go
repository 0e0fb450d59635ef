package loki

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// Log volume (/index/volume and /index/volume_range), as Loki's TSDB index computes it
// (pkg/storage/stores/tsdb: TSDBIndex.Volume, util.PrepareLabelsAndMatchers):
//
//   - aggregateBy=series (the default): one series per combination of the values of the
//     labels the selector names (`{job="foo", env=~".+"}` gives {job, env} series);
//     with targetLabels, of those labels instead, and only streams that have every
//     target label count (Loki adds a `<target>=~".+"` matcher for each).
//   - aggregateBy=labels: one series per label name, {<name>=""}, summing the streams
//     that have the label; all the stream's labels without targetLabels, the targets
//     with them.
//
// Volumes are line bytes (Loki counts chunk kilobytes). Series are ordered by their
// first value, largest first, then by name, and cut to limit (default 100).

// volumeParams are the parameters both endpoints share.
type volumeParams struct {
	query    string
	matchers []*logql.Matcher
	targets  []string
	byLabels bool
	limit    int
}

// defaultVolumeLimit is Loki's seriesvolume.DefaultLimit.
const defaultVolumeLimit = 100

func parseVolumeParams(r *http.Request) (volumeParams, error) {
	p := volumeParams{query: form(r, "query"), limit: defaultVolumeLimit}
	if strings.TrimSpace(p.query) == "" {
		return p, bad(errors.New("query: missing stream selector"))
	}
	ms, err := logql.ParseSelector(p.query)
	if err != nil {
		return p, err
	}
	p.matchers = ms
	if s := form(r, "limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, bad(fmt.Errorf("limit: %q must be a positive value", s))
		}
		if n > 0 { // 0 is the default, as in Loki
			p.limit = n
		}
	}
	switch a := form(r, "aggregateBy"); a {
	case "", "series":
	case "labels":
		p.byLabels = true
	default:
		return p, bad(fmt.Errorf("aggregateBy: invalid aggregation option %q, want series or labels", a))
	}
	for _, t := range strings.Split(form(r, "targetLabels"), ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(p.targets, t) {
			p.targets = append(p.targets, t)
		}
	}
	return p, nil
}

// groups returns the series a stream with labels ls adds its volume to (none when the
// stream lacks a target label).
func (p volumeParams) groups(ls map[string]string) []map[string]string {
	for _, t := range p.targets {
		if ls[t] == "" {
			return nil
		}
	}
	if p.byLabels {
		names := p.targets
		if len(names) == 0 {
			names = slices.Collect(maps.Keys(ls))
		}
		out := make([]map[string]string, 0, len(names))
		for _, n := range names {
			if _, ok := ls[n]; ok {
				out = append(out, map[string]string{n: ""})
			}
		}
		return out
	}
	names := p.targets
	if len(names) == 0 {
		for _, m := range p.matchers {
			names = append(names, m.Name)
		}
	}
	g := map[string]string{}
	for _, n := range names {
		if v, ok := ls[n]; ok {
			g[n] = v
		}
	}
	return []map[string]string{g}
}

// volumeSeries is one output series while volumes are summed.
type volumeSeries struct {
	labels map[string]string
	key    string
	points map[int64]float64 // ns -> bytes
}

type volumeAcc map[string]*volumeSeries

func (a volumeAcc) add(ls map[string]string, t int64, v float64) {
	k := logql.LabelsString(ls)
	s := a[k]
	if s == nil {
		s = &volumeSeries{labels: ls, key: k, points: map[int64]float64{}}
		a[k] = s
	}
	s.points[t] += v
}

// sorted orders the series as Loki does (first value descending, then name) and keeps
// the first limit.
func (a volumeAcc) sorted(limit int) []seriesJSON {
	out := make([]seriesJSON, 0, len(a))
	for _, s := range a {
		ts := slices.Sorted(maps.Keys(s.points))
		vals := make([]sampleJSON, len(ts))
		for i, t := range ts {
			vals[i] = sampleJSON{T: t, V: s.points[t]}
		}
		out = append(out, seriesJSON{Metric: s.labels, Values: vals})
	}
	slices.SortFunc(out, func(x, y seriesJSON) int {
		if vx, vy := x.Values[0].V, y.Values[0].V; vx != vy {
			if vx > vy {
				return -1
			}
			return 1
		}
		return strings.Compare(logql.LabelsString(x.Metric), logql.LabelsString(y.Metric))
	})
	return out[:min(limit, len(out))]
}

// volume answers /index/volume: the volume of each group over [start, end], as a vector
// at end.
func (h *Handler) volume(r *http.Request) (any, error) {
	p, err := parseVolumeParams(r)
	if err != nil {
		return nil, err
	}
	_, end, err := timeRange(r, h.now(), h.opts.LabelsSpan)
	if err != nil {
		return nil, bad(err)
	}
	streams, err := h.matchingStreams(r, []string{p.query}, true)
	if err != nil {
		return nil, err
	}
	acc := volumeAcc{}
	for _, s := range streams {
		if s.entries == 0 {
			continue // Loki counts streams with entries in the range only
		}
		for _, g := range p.groups(s.labels) {
			acc.add(g, end.UnixNano(), float64(s.bytes))
		}
	}
	series := acc.sorted(p.limit)
	out := make([]vectorJSON, len(series))
	for i, s := range series {
		out[i] = vectorJSON{Metric: s.Metric, Value: s.Values[0]}
	}
	return envelope{Status: "success", Data: map[string]any{"resultType": "vector", "result": out}}, nil
}

// volumeRange answers /index/volume_range: the volume of each group per step, as a
// matrix. The store counts bytes_over_time(<selector> [<step>]) per stream (points on
// multiples of the step, as for query_range); the streams are then grouped here.
func (h *Handler) volumeRange(r *http.Request) (any, error) {
	p, err := parseVolumeParams(r)
	if err != nil {
		return nil, err
	}
	start, end, err := timeRange(r, h.now(), time.Hour)
	if err != nil {
		return nil, bad(err)
	}
	step := defaultStep(start, end)
	if s := form(r, "step"); s != "" {
		if step, err = parseDuration(s); err != nil {
			return nil, bad(fmt.Errorf("step: %w", err))
		}
	}
	// Group by every stream label name so that each stream keeps its own series
	// (detected_level and structured metadata are not stream labels).
	streams, err := h.matchingStreams(r, []string{p.query}, false)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, s := range streams {
		for k := range s.labels {
			names[k] = true
		}
	}
	acc := volumeAcc{}
	if len(names) > 0 {
		expr := &logql.VectorAggr{Op: "sum", Grouping: &logql.Grouping{Labels: sortedKeys(names)},
			Inner: &logql.RangeAggr{Op: "bytes_over_time", Log: &logql.LogExpr{Matchers: p.matchers}, Range: step}}
		res, err := h.engine.Eval(r.Context(), expr, logql.Params{Start: start, End: end, Step: step})
		if err != nil {
			return nil, err
		}
		for _, s := range res.Series {
			for _, g := range p.groups(s.Labels) {
				for _, pt := range s.Points {
					acc.add(g, pt.T, pt.V)
				}
			}
		}
	}
	return envelope{Status: "success", Data: queryData{ResultType: "matrix", Result: acc.sorted(p.limit)}}, nil
}
