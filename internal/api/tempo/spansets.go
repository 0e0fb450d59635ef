package tempo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// Grafana's TraceQL result table lists, under each trace, the spans that matched
// (Tempo's spanSets). The store summarises traces without saying which spans matched, so
// the search fetches each found trace (an index lookup) and applies the same filter to
// its spans here, with the store's semantics (store.AttrFilter).

const (
	defaultSpansPerSpanSet = 3 // Tempo's default for spss
	maxSpansPerSpanSet     = 1000
)

type spanSet struct {
	Spans   []spanJSON `json:"spans"`
	Matched int        `json:"matched"`
}

type spanJSON struct {
	SpanID            string     `json:"spanID"`
	Name              string     `json:"name"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	DurationNanos     string     `json:"durationNanos"`
	Attributes        []attrJSON `json:"attributes,omitempty"`
}

// attrJSON is an OTLP KeyValue in protobuf JSON form, which Grafana reads.
type attrJSON struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

// spanMatcher applies a store.TraceQuery's span conditions to spans in memory.
type spanMatcher struct {
	q       store.TraceQuery
	regexps []*regexp.Regexp // per q.Attrs entry; nil for = and !=
}

func newSpanMatcher(q store.TraceQuery) (*spanMatcher, error) {
	m := &spanMatcher{q: q, regexps: make([]*regexp.Regexp, len(q.Attrs))}
	for i, f := range q.Attrs {
		if f.Op == store.MatchRegexp || f.Op == store.MatchNotRegexp {
			re, err := regexp.Compile("^(?:" + f.Value + ")$")
			if err != nil {
				return nil, badRequest("attribute %s: bad regexp %q: %v", f.Key, clip(f.Value), err)
			}
			m.regexps[i] = re
		}
	}
	return m, nil
}

// attrValue looks key up as the store does: span attributes, then resource attributes,
// missing as "". service.name is always the resource's (the store's service column).
func attrValue(key string, span ptrace.Span, res pcommon.Resource) string {
	if key != "service.name" {
		if v, ok := span.Attributes().Get(key); ok {
			return v.AsString()
		}
	}
	if v, ok := res.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

func (m *spanMatcher) match(span ptrace.Span, res pcommon.Resource) bool {
	q := m.q
	start := span.StartTimestamp().AsTime()
	dur := time.Duration(int64(span.EndTimestamp()) - int64(span.StartTimestamp()))
	switch {
	case !q.Start.IsZero() && start.Before(q.Start),
		!q.End.IsZero() && !start.Before(q.End),
		q.Service != "" && attrValue("service.name", span, res) != q.Service,
		q.SpanName != "" && span.Name() != q.SpanName,
		q.MinDuration > 0 && dur < q.MinDuration,
		q.MaxDuration > 0 && dur > q.MaxDuration,
		q.ErrorsOnly && span.Status().Code() != ptrace.StatusCodeError:
		return false
	}
	for i, f := range q.Attrs {
		v := attrValue(f.Key, span, res)
		var ok bool
		switch f.Op {
		case store.MatchEqual:
			ok = v == f.Value
		case store.MatchNotEqual:
			ok = v != f.Value
		case store.MatchRegexp:
			ok = m.regexps[i].MatchString(v)
		case store.MatchNotRegexp:
			ok = !m.regexps[i].MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchedSpans returns the spans of trace id that match, the first spss of them (by
// start time, as the store returns them) with the attributes the query named.
func (a *API) matchedSpans(ctx context.Context, m *spanMatcher, id pcommon.TraceID, spss int) (spanSet, error) {
	set := spanSet{Spans: []spanJSON{}}
	td, err := a.traces.GetTrace(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return set, nil // dropped by retention since the search
	}
	if err != nil {
		return set, fmt.Errorf("get trace %s: %w", id, err)
	}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if !m.match(sp, rs.Resource()) {
					continue
				}
				set.Matched++
				if len(set.Spans) < spss {
					set.Spans = append(set.Spans, m.spanJSON(sp, rs.Resource()))
				}
			}
		}
	}
	return set, nil
}

func (m *spanMatcher) spanJSON(sp ptrace.Span, res pcommon.Resource) spanJSON {
	out := spanJSON{
		SpanID:            sp.SpanID().String(),
		Name:              sp.Name(),
		StartTimeUnixNano: strconv.FormatUint(uint64(sp.StartTimestamp()), 10),
		DurationNanos:     strconv.FormatInt(int64(sp.EndTimestamp())-int64(sp.StartTimestamp()), 10),
	}
	seen := map[string]bool{}
	add := func(key string, v pcommon.Value, ok bool) {
		if !ok || seen[key] {
			return
		}
		seen[key] = true
		out.Attributes = append(out.Attributes, attrJSON{Key: key, Value: otlpJSONValue(v)})
	}
	if m.q.Service != "" {
		v, ok := res.Attributes().Get("service.name")
		add("service.name", v, ok)
	}
	for _, f := range m.q.Attrs {
		v, ok := sp.Attributes().Get(f.Key)
		if !ok || f.Key == "service.name" {
			v, ok = res.Attributes().Get(f.Key)
		}
		add(f.Key, v, ok)
	}
	return out
}

// otlpJSONValue is v as an OTLP AnyValue in protobuf JSON ({"stringValue": "x"}, ...).
func otlpJSONValue(v pcommon.Value) map[string]any {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return map[string]any{"intValue": strconv.FormatInt(v.Int(), 10)}
	case pcommon.ValueTypeBool:
		return map[string]any{"boolValue": v.Bool()}
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return map[string]any{"stringValue": v.AsString()}
		}
		return map[string]any{"doubleValue": f}
	default:
		return map[string]any{"stringValue": v.AsString()}
	}
}
