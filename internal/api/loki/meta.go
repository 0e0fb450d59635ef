package loki

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// streamLabels lists the label sets of the streams in the request's time range that
// match any of the selectors (all streams when there is none), with their stats when
// asked.
type labeledStream struct {
	labels         map[string]string
	entries, bytes int64
}

func (h *Handler) matchingStreams(r *http.Request, selectors []string, stats bool) ([]labeledStream, error) {
	start, end, err := timeRange(r, h.now(), h.opts.LabelsSpan)
	if err != nil {
		return nil, bad(err)
	}
	var sets [][]*logql.Matcher
	for _, s := range selectors {
		if strings.TrimSpace(s) == "" {
			continue
		}
		ms, err := logql.ParseSelector(s)
		if err != nil {
			return nil, err
		}
		sets = append(sets, ms)
	}
	streams, err := h.store.Streams(r.Context(), start.UnixNano(), end.UnixNano()+1, stats)
	if err != nil {
		return nil, err
	}
	var out []labeledStream
	for _, st := range streams {
		ls := logql.StreamLabels(st)
		ok := len(sets) == 0
		for _, ms := range sets {
			if logql.MatchesAll(ms, ls) {
				ok = true
				break
			}
		}
		if ok {
			out = append(out, labeledStream{labels: ls, entries: st.Entries, bytes: st.Bytes})
		}
	}
	return out, nil
}

// labels answers /labels: the names of the stream labels in the range (resource
// attribute names with dots as underscores), sorted.
func (h *Handler) labels(r *http.Request) (any, error) {
	streams, err := h.matchingStreams(r, []string{form(r, "query")}, false)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, s := range streams {
		for k := range s.labels {
			names[k] = true
		}
	}
	return envelope{Status: "success", Data: sortedKeys(names)}, nil
}

func (h *Handler) labelValues(r *http.Request) (any, error) {
	name := r.PathValue("name")
	streams, err := h.matchingStreams(r, []string{form(r, "query")}, false)
	if err != nil {
		return nil, err
	}
	vals := map[string]bool{}
	for _, s := range streams {
		if v, ok := s.labels[name]; ok && v != "" {
			vals[v] = true
		}
	}
	return envelope{Status: "success", Data: sortedKeys(vals)}, nil
}

func (h *Handler) series(r *http.Request) (any, error) {
	streams, err := h.matchingStreams(r, append(r.Form["match[]"], r.Form["match"]...), false)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(streams))
	for _, s := range streams {
		out = append(out, s.labels)
	}
	sort.Slice(out, func(i, j int) bool { return logql.LabelsString(out[i]) < logql.LabelsString(out[j]) })
	return envelope{Status: "success", Data: out}, nil
}

// indexStats answers /index/stats. Loupe has no chunks; it reports one chunk per stream.
func (h *Handler) indexStats(r *http.Request) (any, error) {
	q := form(r, "query")
	if q == "" {
		return nil, bad(fmt.Errorf("query: missing stream selector"))
	}
	streams, err := h.matchingStreams(r, []string{q}, true)
	if err != nil {
		return nil, err
	}
	var st struct {
		Streams int64 `json:"streams"`
		Chunks  int64 `json:"chunks"`
		Entries int64 `json:"entries"`
		Bytes   int64 `json:"bytes"`
	}
	for _, s := range streams {
		st.Streams++
		st.Chunks++
		st.Entries += s.entries
		st.Bytes += s.bytes
	}
	return st, nil
}

// detectedLabels answers /detected_labels (Grafana's Logs Drilldown) with the stream
// labels and their cardinality.
func (h *Handler) detectedLabels(r *http.Request) (any, error) {
	streams, err := h.matchingStreams(r, []string{form(r, "query")}, false)
	if err != nil {
		return nil, err
	}
	vals := map[string]map[string]bool{}
	for _, s := range streams {
		for k, v := range s.labels {
			if vals[k] == nil {
				vals[k] = map[string]bool{}
			}
			vals[k][v] = true
		}
	}
	type detected struct {
		Label       string `json:"label"`
		Cardinality int    `json:"cardinality"`
	}
	out := []detected{}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range vals {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, detected{k, len(vals[k])})
	}
	return map[string]any{"detectedLabels": out}, nil
}

// formatQuery answers /format_query: Loupe checks the query and returns it as given.
func (h *Handler) formatQuery(r *http.Request) (any, error) {
	q := form(r, "query")
	if _, err := logql.Parse(q); err != nil {
		return nil, err
	}
	return envelope{Status: "success", Data: q}, nil
}
