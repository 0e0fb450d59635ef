package native

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

const (
	defaultTraceLimit = 20
	maxTraceLimit     = 1000 // the cap the stores apply (store.TraceQuery.Limit)
)

type traceSummaryJSON struct {
	TraceID       string   `json:"trace_id"`
	RootService   string   `json:"root_service"`
	RootSpanName  string   `json:"root_span_name"`
	Start         string   `json:"start"`
	StartUnixNano string   `json:"start_unix_nano"`
	DurationNanos int64    `json:"duration_ns"`
	SpanCount     int      `json:"span_count"`
	ErrorCount    int      `json:"error_count"`
	Services      []string `json:"services"`
}

// tracesData is a search result, with the range the search used, resolved.
type tracesData struct {
	Start  string             `json:"start"`
	End    string             `json:"end"`
	Traces []traceSummaryJSON `json:"traces"`
}

// findTraces serves GET traces: summaries of traces with a span matching every filter,
// most recent first.
func (a *API) findTraces(r *http.Request) result {
	p, aerr := requestParams(r, "start", "end", "service", "span_name", "attr",
		"min_duration", "max_duration", "errors", "limit")
	if aerr != nil {
		return result{err: aerr}
	}
	var q store.TraceQuery
	if q.Start, q.End, aerr = p.timeRange(a.now()); aerr != nil {
		return result{err: aerr}
	}
	if q.Service, aerr = p.one("service"); aerr != nil {
		return result{err: aerr}
	}
	if q.SpanName, aerr = p.one("span_name"); aerr != nil {
		return result{err: aerr}
	}
	if q.Attrs, aerr = p.attrs(); aerr != nil {
		return result{err: aerr}
	}
	if q.MinDuration, aerr = p.duration("min_duration"); aerr != nil {
		return result{err: aerr}
	}
	if q.MaxDuration, aerr = p.duration("max_duration"); aerr != nil {
		return result{err: aerr}
	}
	if q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return result{err: badParam("max_duration", fmt.Errorf("%s is less than min_duration %s", q.MaxDuration, q.MinDuration))}
	}
	if q.ErrorsOnly, aerr = p.bool("errors"); aerr != nil {
		return result{err: aerr}
	}
	if q.Limit, aerr = p.limit(defaultTraceLimit, maxTraceLimit); aerr != nil {
		return result{err: aerr}
	}

	data := tracesData{
		Start:  formatTime(q.Start),
		End:    formatTime(q.End),
		Traces: make([]traceSummaryJSON, 0, min(q.Limit, 64)),
	}
	for s, err := range a.traces.FindTraces(r.Context(), q) {
		if err != nil {
			return result{err: fmt.Errorf("find traces: %w", err)}
		}
		if len(data.Traces) == q.Limit {
			break // a store that ignores the limit must not make the answer unbounded
		}
		services := s.Services
		if services == nil {
			services = []string{}
		}
		data.Traces = append(data.Traces, traceSummaryJSON{
			TraceID:       s.TraceID.String(),
			RootService:   s.RootService,
			RootSpanName:  s.RootSpanName,
			Start:         formatTime(s.Start),
			StartUnixNano: formatUnixNano(s.Start),
			DurationNanos: s.Duration.Nanoseconds(),
			SpanCount:     s.SpanCount,
			ErrorCount:    s.ErrorCount,
			Services:      services,
		})
	}
	return result{data: data}
}

// getTrace serves GET traces/{trace_id}: every span of one trace, in Loupe's JSON or, with
// format=otlp, in OTLP JSON.
func (a *API) getTrace(r *http.Request) result {
	p, aerr := requestParams(r, "format")
	if aerr != nil {
		return result{err: aerr}
	}
	format, aerr := p.one("format")
	if aerr != nil {
		return result{err: aerr}
	}
	if format != "" && format != "json" && format != "otlp" {
		return result{err: badParam("format", fmt.Errorf("%q is not json or otlp", format))}
	}
	raw := r.PathValue("trace_id")
	id, err := parseTraceID(raw)
	if err != nil {
		return result{err: badData(fmt.Errorf("trace id in path: %w", err))}
	}
	td, err := a.traces.GetTrace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && td.SpanCount() == 0) {
		return result{err: &apiError{typ: errNotFound, err: fmt.Errorf("trace %s not found", id)}}
	}
	if err != nil {
		return result{err: fmt.Errorf("get trace %s: %w", id, err)}
	}
	if format == "otlp" {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		if err != nil {
			return result{err: fmt.Errorf("encode trace %s as OTLP JSON: %w", id, err)}
		}
		return result{raw: b}
	}
	return result{data: newTraceJSON(id, td)}
}

// services serves GET services: the service names seen in spans, sorted.
func (a *API) services(r *http.Request) result {
	if _, aerr := requestParams(r); aerr != nil {
		return result{err: aerr}
	}
	names, err := a.traces.Services(r.Context())
	if err != nil {
		return result{err: fmt.Errorf("list services: %w", err)}
	}
	if names == nil {
		names = []string{}
	}
	return result{data: names}
}

// spanNames serves GET services/{service}/span_names: one service's span names, sorted.
func (a *API) spanNames(r *http.Request) result {
	if _, aerr := requestParams(r); aerr != nil {
		return result{err: aerr}
	}
	service := r.PathValue("service")
	names, err := a.traces.SpanNames(r.Context(), service)
	if err != nil {
		return result{err: fmt.Errorf("list span names of service %q: %w", service, err)}
	}
	if names == nil {
		names = []string{}
	}
	return result{data: names}
}

type statusJSON struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

type eventJSON struct {
	Time         string         `json:"time"`
	TimeUnixNano string         `json:"time_unix_nano"`
	Name         string         `json:"name"`
	Attributes   map[string]any `json:"attributes"`
}

type linkJSON struct {
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	TraceState string         `json:"trace_state,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

type spanJSON struct {
	SpanID        string         `json:"span_id"`
	ParentSpanID  string         `json:"parent_span_id,omitempty"`
	TraceState    string         `json:"trace_state,omitempty"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind"`
	Service       string         `json:"service"`
	StartUnixNano string         `json:"start_unix_nano"`
	EndUnixNano   string         `json:"end_unix_nano"`
	DurationNanos int64          `json:"duration_ns"`
	Status        statusJSON     `json:"status"`
	Attributes    map[string]any `json:"attributes"`
	Resource      map[string]any `json:"resource"`
	Scope         scopeJSON      `json:"scope"`
	Events        []eventJSON    `json:"events"`
	Links         []linkJSON     `json:"links"`

	start, end pcommon.Timestamp // for sorting
}

type traceJSON struct {
	TraceID       string     `json:"trace_id"`
	Spans         []spanJSON `json:"spans"`
	Services      []string   `json:"services"`
	Start         string     `json:"start"`
	StartUnixNano string     `json:"start_unix_nano"`
	DurationNanos int64      `json:"duration_ns"`
}

// newTraceJSON flattens td into spans ordered by start time; among spans starting at the
// same instant the longer one (usually the parent) comes first.
func newTraceJSON(id pcommon.TraceID, td ptrace.Traces) traceJSON {
	out := traceJSON{TraceID: id.String(), Spans: make([]spanJSON, 0, td.SpanCount()), Services: []string{}}
	for _, rs := range td.ResourceSpans().All() {
		resource := jsonSafeMap(rs.Resource().Attributes().AsRaw())
		service := serviceName(rs.Resource().Attributes())
		if !slices.Contains(out.Services, service) {
			out.Services = append(out.Services, service)
		}
		for _, ss := range rs.ScopeSpans().All() {
			scope := scopeJSON{Name: ss.Scope().Name(), Version: ss.Scope().Version()}
			for _, span := range ss.Spans().All() {
				out.Spans = append(out.Spans, newSpanJSON(span, service, resource, scope))
			}
		}
	}
	slices.Sort(out.Services)
	slices.SortStableFunc(out.Spans, func(x, y spanJSON) int {
		if x.start != y.start {
			return cmpTimestamp(x.start, y.start)
		}
		if x.end != y.end {
			return -cmpTimestamp(x.end, y.end)
		}
		return strings.Compare(x.SpanID, y.SpanID)
	})
	if len(out.Spans) > 0 {
		first, last := out.Spans[0].start, out.Spans[0].end
		for _, s := range out.Spans {
			last = max(last, s.end)
		}
		out.Start = formatTime(first.AsTime())
		out.StartUnixNano = formatUnixNano(first.AsTime())
		if last > first {
			out.DurationNanos = int64(last - first)
		}
	}
	return out
}

func cmpTimestamp(a, b pcommon.Timestamp) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func newSpanJSON(span ptrace.Span, service string, resource map[string]any, scope scopeJSON) spanJSON {
	s := spanJSON{
		SpanID:        span.SpanID().String(),
		TraceState:    span.TraceState().AsRaw(),
		Name:          span.Name(),
		Kind:          strings.ToLower(span.Kind().String()),
		Service:       service,
		StartUnixNano: fmt.Sprint(uint64(span.StartTimestamp())),
		EndUnixNano:   fmt.Sprint(uint64(span.EndTimestamp())),
		Status: statusJSON{
			Code:    strings.ToLower(span.Status().Code().String()),
			Message: span.Status().Message(),
		},
		Attributes: jsonSafeMap(span.Attributes().AsRaw()),
		Resource:   resource,
		Scope:      scope,
		Events:     make([]eventJSON, 0, span.Events().Len()),
		Links:      make([]linkJSON, 0, span.Links().Len()),
		start:      span.StartTimestamp(),
		end:        span.EndTimestamp(),
	}
	if !span.ParentSpanID().IsEmpty() {
		s.ParentSpanID = span.ParentSpanID().String()
	}
	if span.EndTimestamp() > span.StartTimestamp() {
		s.DurationNanos = int64(span.EndTimestamp() - span.StartTimestamp())
	}
	for _, e := range span.Events().All() {
		s.Events = append(s.Events, eventJSON{
			Time:         formatTime(e.Timestamp().AsTime()),
			TimeUnixNano: fmt.Sprint(uint64(e.Timestamp())),
			Name:         e.Name(),
			Attributes:   jsonSafeMap(e.Attributes().AsRaw()),
		})
	}
	for _, l := range span.Links().All() {
		s.Links = append(s.Links, linkJSON{
			TraceID:    l.TraceID().String(),
			SpanID:     l.SpanID().String(),
			TraceState: l.TraceState().AsRaw(),
			Attributes: jsonSafeMap(l.Attributes().AsRaw()),
		})
	}
	return s
}

// serviceName is the resource's service.name, or "unknown_service" as the OTel SDKs name a
// service that did not set one.
func serviceName(attrs pcommon.Map) string {
	if v, ok := attrs.Get("service.name"); ok && v.AsString() != "" {
		return v.AsString()
	}
	return "unknown_service"
}
