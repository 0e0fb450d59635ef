package tempo

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

const (
	defaultSearchLimit = 20
	maxSearchLimit     = 1000 // the cap of store.TraceQuery.Limit
	// defaultSearchRange is searched when the request has no start/end. Tempo without a
	// range searches only recent data; Grafana always sends one.
	defaultSearchRange = 24 * time.Hour
)

// searchResponse is Tempo's SearchResponse in its JSON form.
type searchResponse struct {
	Traces  []traceSearchMetadata `json:"traces"`
	Metrics searchMetrics         `json:"metrics"`
}

type traceSearchMetadata struct {
	TraceID           string    `json:"traceID"`
	RootServiceName   string    `json:"rootServiceName"`
	RootTraceName     string    `json:"rootTraceName"`
	StartTimeUnixNano string    `json:"startTimeUnixNano"` // uint64 as a string, as protobuf JSON writes it
	DurationMs        int64     `json:"durationMs"`
	SpanSets          []spanSet `json:"spanSets"`
}

type searchMetrics struct {
	InspectedTraces int    `json:"inspectedTraces"`
	InspectedBytes  string `json:"inspectedBytes"`
	TotalJobs       int    `json:"totalJobs"`
	CompletedJobs   int    `json:"completedJobs"`
}

// search serves GET /api/search: traces matching `q` (TraceQL, traceql.go) or with a span
// matching `tags` (logfmt), within minDuration/maxDuration (span duration) and
// [start, end) in unix seconds, most recent first. Each trace lists up to spss (default
// 3) of its matching spans in one span set, as Grafana's TraceQL table shows them.
func (a *API) search(r *http.Request) result {
	v := r.URL.Query()
	q, tql, err := a.searchQuery(v)
	if err != nil {
		return result{err: err}
	}
	spss, err := intParam(v, "spss", defaultSpansPerSpanSet)
	if err != nil {
		return result{err: err}
	}
	if spss <= 0 || spss > maxSpansPerSpanSet {
		return result{err: badRequest("parameter spss: %d, want 1 to %d", spss, maxSpansPerSpanSet)}
	}
	resp := searchResponse{Traces: []traceSearchMetadata{}, Metrics: searchMetrics{InspectedBytes: "0", TotalJobs: 1, CompletedJobs: 1}}
	if tql != nil {
		// The URL's duration bounds narrow the spans the query matched.
		keep := func(t *evalTrace, i int) bool {
			sp := t.spans[i].sp
			d := time.Duration(int64(sp.EndTimestamp()) - int64(sp.StartTimestamp()))
			return d >= q.MinDuration && (q.MaxDuration == 0 || d <= q.MaxDuration)
		}
		hits, inspected, err := a.runTraceQL(r.Context(), tql, q, keep)
		if err != nil {
			return result{err: err}
		}
		fields := outputFields(tql)
		for _, h := range hits {
			m := summaryJSON(h.summary)
			m.SpanSets = []spanSet{spanSetOf(h, fields, spss)}
			resp.Traces = append(resp.Traces, m)
		}
		resp.Metrics.InspectedTraces = inspected
		return result{data: resp}
	}
	m, err := newSpanMatcher(q)
	if err != nil {
		return result{err: err}
	}
	for s, err := range a.traces.FindTraces(r.Context(), q) {
		if err != nil {
			return result{err: fmt.Errorf("search traces: %w", err)}
		}
		if len(resp.Traces) == q.Limit {
			break
		}
		resp.Traces = append(resp.Traces, summaryJSON(s))
	}
	// Fetched after the search finished: the store's iterator holds a connection.
	for i := range resp.Traces {
		id, _ := parseTraceID(resp.Traces[i].TraceID)
		set, err := a.matchedSpans(r.Context(), m, id, spss)
		if err != nil {
			return result{err: err}
		}
		resp.Traces[i].SpanSets = []spanSet{set}
	}
	resp.Metrics.InspectedTraces = len(resp.Traces)
	return result{data: resp}
}

func summaryJSON(s store.TraceSummary) traceSearchMetadata {
	return traceSearchMetadata{
		TraceID:           s.TraceID.String(),
		RootServiceName:   s.RootService,
		RootTraceName:     s.RootSpanName,
		StartTimeUnixNano: strconv.FormatInt(s.Start.UnixNano(), 10),
		DurationMs:        s.Duration.Milliseconds(),
	}
}

// searchQuery reads the search parameters: a store query with the tags, URL duration
// bounds, range and limit, and the parsed TraceQL when q is set.
func (a *API) searchQuery(v url.Values) (store.TraceQuery, ssNode, error) {
	var q store.TraceQuery
	var tql ssNode
	var err error
	if s := strings.TrimSpace(v.Get("q")); s != "" {
		if v.Get("tags") != "" {
			return q, nil, badRequest("parameters q and tags are exclusive: use one")
		}
		if tql, err = parseTraceQL(s); err != nil {
			return q, nil, &apiError{status: http.StatusBadRequest, err: fmt.Errorf("parameter q: %w", err)}
		}
	} else if tags := v.Get("tags"); tags != "" {
		pairs, err := parseLogfmt(tags)
		if err != nil {
			return q, nil, badRequest("parameter tags: %v", err)
		}
		if err := applyTags(&q, pairs); err != nil {
			return q, nil, badRequest("parameter tags: %v", err)
		}
	}
	for _, b := range []struct {
		name string
		dst  *time.Duration
	}{{"minDuration", &q.MinDuration}, {"maxDuration", &q.MaxDuration}} {
		s := v.Get(b.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return q, nil, badRequest("parameter %s: %q is not a duration such as 100ms or 1.5s", b.name, clip(s))
		}
		*b.dst = d
	}
	if q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return q, nil, badRequest("maxDuration %s is less than minDuration %s", q.MaxDuration, q.MinDuration)
	}
	if q.Limit, err = intParam(v, "limit", defaultSearchLimit); err != nil {
		return q, nil, err
	}
	if q.Limit <= 0 || q.Limit > maxSearchLimit {
		return q, nil, badRequest("parameter limit: %d, want 1 to %d", q.Limit, maxSearchLimit)
	}
	q.Start, q.End, err = a.timeRange(v, defaultSearchRange)
	return q, tql, err
}

// timeRange reads start and end in unix seconds. A missing end is now; a missing start
// is end - def.
func (a *API) timeRange(v url.Values, def time.Duration) (time.Time, time.Time, error) {
	end := a.now()
	if s := v.Get("end"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, time.Time{}, badRequest("parameter end: %q is not unix seconds", clip(s))
		}
		end = time.Unix(n, 0)
	}
	start := end.Add(-def)
	if s := v.Get("start"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, time.Time{}, badRequest("parameter start: %q is not unix seconds", clip(s))
		}
		start = time.Unix(n, 0)
	}
	if start.After(end) {
		return time.Time{}, time.Time{}, badRequest("start %d is after end %d", start.Unix(), end.Unix())
	}
	// Tempo's end is inclusive to the second: include spans started in that second.
	if v.Get("end") != "" {
		end = end.Add(time.Second)
	}
	return start, end, nil
}

func intParam(v url.Values, name string, def int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest("parameter %s: %q is not an integer", name, clip(s))
	}
	return n, nil
}

// applyTags maps Tempo's legacy search tags to a store query. Tempo's special tags:
// name (span name), status.code=error / error=true (error spans), service.name (the
// service); every other key=value is an attribute equality.
func applyTags(q *store.TraceQuery, pairs []kv) error {
	for _, p := range pairs {
		switch {
		case p.key == "name" && q.SpanName == "":
			q.SpanName = p.value
		case p.key == "service.name" && q.Service == "":
			q.Service = p.value
		case p.key == "status.code" || p.key == "error":
			if p.value != "error" && p.value != "2" && p.value != "true" {
				return fmt.Errorf("%s=%s: only error spans can be searched (status.code=error or error=true)", p.key, p.value)
			}
			q.ErrorsOnly = true
		default:
			q.Attrs = append(q.Attrs, store.AttrFilter{Key: p.key, Op: store.MatchEqual, Value: p.value})
		}
	}
	return nil
}

// kv is one logfmt pair.
type kv struct{ key, value string }

// parseLogfmt parses `key=value key2="quoted value"` as Tempo's tags parameter does.
// Quoted values use Go escapes. A key without "=" or an empty key is an error.
func parseLogfmt(s string) ([]kv, error) {
	var out []kv
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' {
			i++
			continue
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' {
			i++
		}
		key := s[start:i]
		if key == "" {
			return nil, fmt.Errorf("empty key at offset %d", start)
		}
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("key %q at offset %d has no =value", clip(key), start)
		}
		i++ // '='
		var val string
		if i < len(s) && s[i] == '"' {
			v, n, err := lexString(s[i:])
			if err != nil {
				return nil, fmt.Errorf("value of %q: %w", clip(key), err)
			}
			val = v
			i += n
			if i < len(s) && s[i] != ' ' && s[i] != '\t' {
				return nil, fmt.Errorf("value of %q: want a space after the closing quote at offset %d", clip(key), i)
			}
		} else {
			vs := i
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				if s[i] == '"' {
					return nil, fmt.Errorf("value of %q: stray quote at offset %d", clip(key), i)
				}
				i++
			}
			val = s[vs:i]
		}
		out = append(out, kv{key: key, value: val})
	}
	return out, nil
}
