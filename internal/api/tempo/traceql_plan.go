package tempo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
)

// A TraceQL search runs in two steps. The store finds candidate traces with one span
// satisfying a pre-filter: conditions every matching trace must meet, taken from one
// spanset filter of the query (prefilter). Each candidate is then fetched by id and the
// whole query evaluated over its spans (traceql_eval.go). The pre-filter is never
// narrower than the query, so the evaluation decides; when it rejects candidates, the
// search asks the store for more, up to maxCandidates traces.

// maxCandidates bounds the traces one search fetches and evaluates (the store's cap).
const maxCandidates = maxSearchLimit

// prefilter returns store conditions that every trace matching n satisfies.
func prefilter(n ssNode) store.TraceQuery {
	switch n := n.(type) {
	case *ssFilter:
		var q store.TraceQuery
		for _, c := range conjuncts(n.cond, nil) {
			pushDown(&q, c)
		}
		return q
	case *ssPipeline:
		return prefilter(n.src)
	case *ssBinary:
		if n.op == "||" {
			return store.TraceQuery{} // either side may match alone
		}
		// && and the structural operators keep spans of the right side; the plain forms
		// also need a span of the left side, so either side's conditions hold. The one
		// with more conditions narrows the most.
		r := prefilter(n.r)
		if n.op[0] == '!' {
			return r
		}
		if l := prefilter(n.l); weight(l) > weight(r) {
			return l
		}
		return r
	}
	return store.TraceQuery{}
}

func weight(q store.TraceQuery) int {
	n := len(q.Attrs)
	for _, set := range []bool{q.Service != "", q.SpanName != "", q.MinDuration > 0, q.MaxDuration > 0, q.ErrorsOnly} {
		if set {
			n++
		}
	}
	return n
}

// conjuncts lists the comparisons c requires of every span it matches.
func conjuncts(c condNode, out []*condCmp) []*condCmp {
	switch c := c.(type) {
	case *condBinary:
		if c.op == "&&" {
			return conjuncts(c.r, conjuncts(c.l, out))
		}
	case *condCmp:
		return append(out, c)
	}
	return out
}

// pushDown adds c to q when the store can test it without excluding a span the
// evaluation would match. The store compares attributes as text, looks a name up in the
// span's attributes and then the resource's, and reads a missing attribute as "".
func pushDown(q *store.TraceQuery, c *condCmp) {
	if c.f.scope == scopeIntrinsic {
		switch {
		case c.f.name == "name" && c.op == "=" && c.val.kind == vStr && q.SpanName == "":
			q.SpanName = c.val.s
		case c.f.name == "status" && c.op == "=" && c.val.s == "error":
			q.ErrorsOnly = true
		case c.f.name == "duration":
			d := int64(c.val.f)
			switch c.op {
			case ">", ">=":
				if c.op == ">" {
					d++
				}
				q.MinDuration = max(q.MinDuration, time.Duration(d))
			case "<", "<=":
				if c.op == "<" {
					d--
				}
				if d > 0 && (q.MaxDuration == 0 || time.Duration(d) < q.MaxDuration) {
					q.MaxDuration = time.Duration(d)
				}
			}
		}
		return
	}
	if c.f.scope == "instrumentation" || c.op == "" {
		return
	}
	// The text the store holds: strings, booleans, integers in canonical form.
	text := c.val.s
	switch c.val.kind {
	case vStr, vBool:
	case vNum:
		if n, err := strconv.ParseInt(text, 10, 64); err != nil || strconv.FormatInt(n, 10) != text {
			return
		}
	default:
		return
	}
	if c.f.name == "service.name" && c.op == "=" && c.f.scope != "span" && q.Service == "" {
		q.Service = text
		return
	}
	var op store.MatchOp
	switch c.op {
	case "=":
		op = store.MatchEqual
	case "!=":
		op = store.MatchNotEqual
	case "=~":
		op = store.MatchRegexp
	case "!~":
		op = store.MatchNotRegexp
	default:
		return
	}
	q.Attrs = append(q.Attrs, store.AttrFilter{Key: c.f.name, Op: op, Value: text})
	if op == store.MatchNotEqual || op == store.MatchNotRegexp {
		// The store reads a missing attribute as "", which != "x" would match; TraceQL's
		// != and !~ match only spans that have the attribute (evaluated the same way).
		q.Attrs = append(q.Attrs, store.AttrFilter{Key: c.f.name, Op: store.MatchRegexp, Value: ".+"})
	}
}

// traceqlHit is one trace the query matched, with its spans that did.
type traceqlHit struct {
	summary store.TraceSummary
	trace   *evalTrace
	set     spanset
}

// runTraceQL returns up to q.Limit traces matching n among those the store finds for
// base (time range, URL duration bounds and limit), most recent first, and how many
// candidates it evaluated. keep, when set, narrows the matched spans further.
func (a *API) runTraceQL(ctx context.Context, n ssNode, base store.TraceQuery, keep func(*evalTrace, int) bool) ([]traceqlHit, int, error) {
	pq := prefilter(n)
	pq.Start, pq.End = base.Start, base.End
	if _, plain := n.(*ssFilter); plain {
		// URL duration bounds apply to the matched spans; with a single filter they are
		// conditions on the same span, so the store can apply them too.
		pq.MinDuration = max(pq.MinDuration, base.MinDuration)
		if base.MaxDuration > 0 && (pq.MaxDuration == 0 || base.MaxDuration < pq.MaxDuration) {
			pq.MaxDuration = base.MaxDuration
		}
	}
	if pq.MaxDuration > 0 && pq.MaxDuration < pq.MinDuration {
		return nil, 0, nil // no span can match
	}
	var hits []traceqlHit
	seen := map[pcommon.TraceID]bool{}
	for pq.Limit = base.Limit; ; pq.Limit = min(pq.Limit*4, maxCandidates) {
		var found []store.TraceSummary
		for s, err := range a.traces.FindTraces(ctx, pq) {
			if err != nil {
				return nil, len(seen), fmt.Errorf("search traces: %w", err)
			}
			found = append(found, s)
		}
		// Fetched after the search finished: the store's iterator holds a connection.
		for _, s := range found {
			if seen[s.TraceID] || len(hits) == base.Limit {
				continue
			}
			seen[s.TraceID] = true
			td, err := a.traces.GetTrace(ctx, s.TraceID)
			if errors.Is(err, store.ErrNotFound) {
				continue // dropped by retention since the search
			}
			if err != nil {
				return nil, len(seen), fmt.Errorf("get trace %s: %w", s.TraceID, err)
			}
			t := newEvalTrace(td)
			set := t.eval(n)
			for i := range set {
				set[i] = set[i] && (keep == nil || keep(t, i))
			}
			if set.any() {
				hits = append(hits, traceqlHit{summary: s, trace: t, set: set})
			}
		}
		if len(hits) == base.Limit || len(found) < pq.Limit || pq.Limit == maxCandidates {
			return hits, len(seen), nil
		}
	}
}

// outputFields lists the fields whose values the span sets show: those the query's
// conditions and select() name, in order, without repeats.
func outputFields(n ssNode) []field {
	var out []field
	seen := map[string]bool{}
	add := func(f field) {
		if f.scope == "literal" || f.scope == scopeIntrinsic && (f.name == "name" || f.name == "duration") {
			return // every listed span carries its name and duration already
		}
		if !seen[f.text] {
			seen[f.text] = true
			out = append(out, f)
		}
	}
	var cond func(condNode)
	cond = func(c condNode) {
		switch c := c.(type) {
		case *condBinary:
			cond(c.l)
			cond(c.r)
		case *condNot:
			cond(c.c)
		case *condCmp:
			add(c.f)
		}
	}
	var walk func(ssNode)
	walk = func(n ssNode) {
		switch n := n.(type) {
		case *ssFilter:
			cond(n.cond)
		case *ssBinary:
			walk(n.l)
			walk(n.r)
		case *ssPipeline:
			walk(n.src)
			for _, st := range n.stages {
				cond(st.filter)
				for _, f := range st.sel {
					add(f)
				}
			}
		}
	}
	walk(n)
	return out
}

// spanSetOf lists the matched spans of a hit: the first spss by start time, with the
// values of fields.
func spanSetOf(h traceqlHit, fields []field, spss int) spanSet {
	set := spanSet{Spans: []spanJSON{}}
	for i, in := range h.set {
		if !in {
			continue
		}
		set.Matched++
		if len(set.Spans) == spss {
			continue
		}
		s := h.trace.spans[i]
		sj := spanJSON{
			SpanID:            s.sp.SpanID().String(),
			Name:              s.sp.Name(),
			StartTimeUnixNano: strconv.FormatUint(uint64(s.sp.StartTimestamp()), 10),
			DurationNanos:     strconv.FormatInt(int64(s.sp.EndTimestamp())-int64(s.sp.StartTimestamp()), 10),
		}
		for _, f := range fields {
			if kv, ok := fieldJSON(h.trace, f, i); ok {
				sj.Attributes = append(sj.Attributes, kv)
			}
		}
		set.Spans = append(set.Spans, sj)
	}
	return set
}

// fieldJSON is the value of f on span i as Grafana reads span set attributes: the
// attribute's own type, intrinsics under their TraceQL name.
func fieldJSON(t *evalTrace, f field, i int) (attrJSON, bool) {
	s := t.spans[i]
	var v pcommon.Value
	var ok bool
	switch f.scope {
	case "span":
		v, ok = s.sp.Attributes().Get(f.name)
	case "resource":
		v, ok = s.res.Attributes().Get(f.name)
	case "instrumentation":
		v, ok = s.scope.Attributes().Get(f.name)
	case "":
		if v, ok = s.sp.Attributes().Get(f.name); !ok {
			v, ok = s.res.Attributes().Get(f.name)
		}
	default:
		tv, ok := t.value(f, i)
		if !ok {
			return attrJSON{}, false
		}
		if tv.kind == vDur {
			return attrJSON{Key: f.name, Value: map[string]any{"intValue": strconv.FormatInt(int64(tv.f), 10)}}, true
		}
		return attrJSON{Key: f.name, Value: map[string]any{"stringValue": tv.s}}, true
	}
	if !ok {
		return attrJSON{}, false
	}
	return attrJSON{Key: f.name, Value: otlpJSONValue(v)}, true
}
