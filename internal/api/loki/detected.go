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

// /detected_fields and /detected_field/{name}/values (Grafana's Logs Drilldown), as
// Loki 3.x's query frontend answers them: the newest line_limit lines of the log query
// are read, and their fields listed: structured metadata (record attributes, trace_id,
// detected_level; parsers null) and the keys the json or logfmt parser finds in each
// line (parsers ["json"] or ["logfmt"]). Cardinality is the exact number of distinct
// values in those lines (Loki estimates it with a HyperLogLog sketch).

const (
	defaultDetectedLineLimit  = 1000 // Loki's line_limit default
	defaultDetectedFieldLimit = 1000 // Loki's limit default
)

// detectedField is one entry of the response, Loki's logproto.DetectedField.
type detectedField struct {
	Label       string   `json:"label"`
	Type        string   `json:"type"`
	Cardinality int      `json:"cardinality"`
	Parsers     []string `json:"parsers"`
	JSONPath    []string `json:"jsonPath,omitempty"`
}

// fieldStat accumulates one field over the sampled lines.
type fieldStat struct {
	types   int // the types every value parses as (valueTypes)
	values  map[string]bool
	parsers []string
	path    []string
}

func (f *fieldStat) add(v string) {
	if !f.values[v] {
		f.values[v] = true
		f.types &= valueTypes(v)
	}
}

// fieldSet collects fields in the order first seen, up to limit fields.
type fieldSet struct {
	limit int
	order []string
	stats map[string]*fieldStat
}

func (s *fieldSet) get(name string) *fieldStat {
	f := s.stats[name]
	if f == nil && len(s.order) < s.limit {
		f = &fieldStat{types: -1, values: map[string]bool{}}
		s.stats[name] = f
		s.order = append(s.order, name)
	}
	return f
}

// sampledLine is a line with its labels that are not stream labels.
type sampledLine struct {
	line string
	meta map[string]string
}

func intParam(r *http.Request, name string, def int) (int, error) {
	s := form(r, name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, bad(fmt.Errorf("%s: %q is not a positive integer", name, s))
	}
	if n == 0 {
		return def, nil
	}
	return n, nil
}

// sampleLines runs the request's log query (newest first, at most line_limit lines) and
// returns its lines with the labels that are not stream labels.
func (h *Handler) sampleLines(r *http.Request, lineLimit int) ([]sampledLine, error) {
	q := form(r, "query")
	if strings.TrimSpace(q) == "" {
		return nil, bad(errors.New("query: missing LogQL log query"))
	}
	expr, err := logql.Parse(q)
	if err != nil {
		return nil, err
	}
	lx, ok := expr.(*logql.LogExpr)
	if !ok {
		return nil, bad(fmt.Errorf("query: %q is a metric query, want a log query", q))
	}
	start, end, err := timeRange(r, h.now(), time.Hour)
	if err != nil {
		return nil, bad(err)
	}
	// The stream label sets of the selector, to tell stream labels from the others.
	streams, err := h.store.Streams(r.Context(), start.UnixNano(), end.UnixNano()+1, false)
	if err != nil {
		return nil, err
	}
	var sets []map[string]string
	for _, st := range streams {
		if ls := logql.StreamLabels(st); logql.MatchesAll(lx.Matchers, ls) {
			sets = append(sets, ls)
		}
	}
	res, err := h.engine.Eval(r.Context(), lx, logql.Params{Start: start, End: end, Step: time.Second, Limit: lineLimit})
	if err != nil {
		return nil, err
	}
	var out []sampledLine
	for _, s := range res.Streams {
		origin := streamOf(s.Labels, sets)
		meta := map[string]string{}
		for k, v := range s.Labels {
			if _, ok := origin[k]; !ok && v != "" && k != "__error__" && k != "__error_details__" {
				meta[k] = v
			}
		}
		for _, e := range s.Entries {
			out = append(out, sampledLine{line: e.Line, meta: meta})
		}
	}
	return out, nil
}

// streamOf returns the largest stream label set contained in ls.
func streamOf(ls map[string]string, sets []map[string]string) map[string]string {
	var best map[string]string
	for _, set := range sets {
		if len(set) <= len(best) {
			continue
		}
		ok := true
		for k, v := range set {
			if w, has := ls[k]; !has || w != v {
				ok = false
				break
			}
		}
		if ok {
			best = set
		}
	}
	return best
}

// detectFields lists the fields of the sampled lines.
func detectFields(lines []sampledLine, limit int) *fieldSet {
	fs := &fieldSet{limit: limit, stats: map[string]*fieldStat{}}
	for _, l := range lines {
		for _, k := range slices.Sorted(maps.Keys(l.meta)) {
			if f := fs.get(k); f != nil {
				f.add(l.meta[k])
			}
		}
		parsed, parser := parseLineFields(l.line)
		for _, p := range parsed {
			f := fs.get(p.name)
			if f == nil {
				continue
			}
			if !slices.Contains(f.parsers, parser) {
				f.parsers = append(f.parsers, parser)
			}
			if f.path == nil && p.path != nil {
				f.path = p.path
			}
			f.add(p.value)
		}
	}
	return fs
}

// detectedFields answers /detected_fields: {"fields":[...],"limit":N}, sorted by label.
func (h *Handler) detectedFields(r *http.Request) (any, error) {
	lineLimit, err := intParam(r, "line_limit", defaultDetectedLineLimit)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", defaultDetectedFieldLimit)
	if err != nil {
		return nil, err
	}
	lines, err := h.sampleLines(r, lineLimit)
	if err != nil {
		return nil, err
	}
	fs := detectFields(lines, limit)
	out := make([]detectedField, 0, len(fs.order))
	for _, name := range slices.Sorted(slices.Values(fs.order)) {
		f := fs.stats[name]
		out = append(out, detectedField{Label: name, Type: typeName(f.types), Cardinality: len(f.values),
			Parsers: f.parsers, JSONPath: f.path})
	}
	return map[string]any{"fields": out, "limit": limit}, nil
}

// detectedFieldValues answers /detected_field/{name}/values: {"values":[...],"limit":N},
// the distinct values of the field in the sampled lines, sorted, at most limit.
func (h *Handler) detectedFieldValues(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if name == "" {
		return nil, bad(errors.New("name: missing field name"))
	}
	lineLimit, err := intParam(r, "line_limit", defaultDetectedLineLimit)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", defaultDetectedFieldLimit)
	if err != nil {
		return nil, err
	}
	lines, err := h.sampleLines(r, lineLimit)
	if err != nil {
		return nil, err
	}
	vals := map[string]bool{}
	for _, l := range lines {
		if v, ok := l.meta[name]; ok {
			vals[v] = true
		}
		parsed, _ := parseLineFields(l.line)
		for _, p := range parsed {
			if p.name == name {
				vals[p.value] = true
			}
		}
	}
	out := sortedKeys(vals)
	return map[string]any{"values": out[:min(limit, len(out))], "limit": limit}, nil
}
