package tempo

import (
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// evalTrace is one trace flattened for TraceQL: spans in the store's order (start time),
// each with its resource, scope and the index of its parent (-1 for a root or a span
// whose parent is missing).
type evalTrace struct {
	spans       []evalSpan
	rootName    string
	rootService string
	duration    time.Duration
}

type evalSpan struct {
	sp     ptrace.Span
	res    pcommon.Resource
	scope  pcommon.InstrumentationScope
	parent int
}

func newEvalTrace(td ptrace.Traces) *evalTrace {
	t := &evalTrace{}
	byID := map[pcommon.SpanID]int{}
	var first, last pcommon.Timestamp
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				byID[sp.SpanID()] = len(t.spans)
				t.spans = append(t.spans, evalSpan{sp: sp, res: rs.Resource(), scope: ss.Scope(), parent: -1})
				if first == 0 || sp.StartTimestamp() < first {
					first = sp.StartTimestamp()
				}
				last = max(last, sp.EndTimestamp())
			}
		}
	}
	t.duration = time.Duration(int64(last) - int64(first))
	root := -1
	for i := range t.spans {
		s := &t.spans[i]
		if p := s.sp.ParentSpanID(); !p.IsEmpty() {
			if j, ok := byID[p]; ok && j != i {
				s.parent = j
			}
		} else if root < 0 {
			root = i
		}
	}
	if root < 0 && len(t.spans) > 0 {
		// The root has not arrived: the earliest span stands in, as the store's summary does.
		root = 0
		for i, s := range t.spans {
			if s.sp.StartTimestamp() < t.spans[root].sp.StartTimestamp() {
				root = i
			}
		}
	}
	if root >= 0 {
		t.rootName = t.spans[root].sp.Name()
		t.rootService = serviceOf(t.spans[root].res)
	}
	return t
}

func serviceOf(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

// spanset is the set of spans of one trace a TraceQL expression selected, by index.
type spanset []bool

func (s spanset) any() bool {
	for _, in := range s {
		if in {
			return true
		}
	}
	return false
}

// eval returns the spans of t that n selects.
func (t *evalTrace) eval(n ssNode) spanset {
	switch n := n.(type) {
	case *ssFilter:
		out := make(spanset, len(t.spans))
		for i := range t.spans {
			out[i] = t.match(n.cond, i)
		}
		return out
	case *ssBinary:
		return t.binary(n.op, t.eval(n.l), t.eval(n.r))
	case *ssPipeline:
		set := t.eval(n.src)
		for _, st := range n.stages {
			set = t.stage(st, set)
		}
		return set
	}
	return make(spanset, len(t.spans))
}

// binary applies a spanset operator. As in Tempo, && and || keep the spans of both sides
// (&& only when both found some); a structural operator keeps the spans of its right side
// that stand in the relation to some span of its left side (or to none, for the ! forms).
func (t *evalTrace) binary(op string, l, r spanset) spanset {
	out := make(spanset, len(t.spans))
	switch op {
	case "&&", "||":
		if op == "&&" && (!l.any() || !r.any()) {
			return out
		}
		for i := range out {
			out[i] = l[i] || r[i]
		}
		return out
	}
	neg := strings.HasPrefix(op, "!")
	rel := make([]bool, len(t.spans)) // span i stands in the relation to some span of l
	switch strings.TrimPrefix(op, "!") {
	case ">": // i's parent is in l
		for i, s := range t.spans {
			rel[i] = s.parent >= 0 && l[s.parent]
		}
	case ">>": // an ancestor of i is in l
		for i := range t.spans {
			for j, n := t.spans[i].parent, 0; j >= 0 && n < len(t.spans); j, n = t.spans[j].parent, n+1 {
				if l[j] {
					rel[i] = true
					break
				}
			}
		}
	case "<": // i is the parent of a span in l
		for j, s := range t.spans {
			if l[j] && s.parent >= 0 {
				rel[s.parent] = true
			}
		}
	case "<<": // i is an ancestor of a span in l
		for j := range t.spans {
			if !l[j] {
				continue
			}
			for a, n := t.spans[j].parent, 0; a >= 0 && n < len(t.spans); a, n = t.spans[a].parent, n+1 {
				rel[a] = true
			}
		}
	case "~": // i has a sibling (same parent, another span) in l
		inL := map[int]int{} // parent -> spans of l under it
		for j, s := range t.spans {
			if l[j] && s.parent >= 0 {
				inL[s.parent]++
			}
		}
		for i, s := range t.spans {
			if s.parent < 0 {
				continue
			}
			n := inL[s.parent]
			if l[i] {
				n-- // not its own sibling
			}
			rel[i] = n > 0
		}
	}
	for i := range out {
		out[i] = r[i] && rel[i] != neg
	}
	return out
}

func (t *evalTrace) stage(st stage, set spanset) spanset {
	switch {
	case st.filter != nil:
		out := make(spanset, len(set))
		for i, in := range set {
			out[i] = in && t.match(st.filter, i)
		}
		return out
	case st.agg != "":
		if !set.any() {
			return set
		}
		v, ok := t.aggregate(st, set)
		if ok && compare(v, st.op, st.val) {
			return set
		}
		return make(spanset, len(set))
	}
	return set // select and coalesce do not change the set
}

// aggregate computes count(), or avg/min/max/sum of a numeric or duration field over the
// spans of set that have it.
func (t *evalTrace) aggregate(st stage, set spanset) (tval, bool) {
	var n int
	var sum, lo, hi float64
	kind := vNum
	for i, in := range set {
		if !in {
			continue
		}
		if st.aggOf == nil {
			n++
			continue
		}
		v, ok := t.value(*st.aggOf, i)
		if !ok || v.kind != vNum && v.kind != vDur {
			continue
		}
		kind = v.kind
		if n == 0 || v.f < lo {
			lo = v.f
		}
		if n == 0 || v.f > hi {
			hi = v.f
		}
		sum += v.f
		n++
	}
	switch st.agg {
	case "count":
		return tval{kind: vNum, f: float64(n)}, true
	case "sum":
		return tval{kind: kind, f: sum}, n > 0
	case "avg":
		return tval{kind: kind, f: sum / float64(max(n, 1))}, n > 0
	case "min":
		return tval{kind: kind, f: lo}, n > 0
	default:
		return tval{kind: kind, f: hi}, n > 0
	}
}

func (t *evalTrace) match(c condNode, i int) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *condBinary:
		if c.op == "&&" {
			return t.match(c.l, i) && t.match(c.r, i)
		}
		return t.match(c.l, i) || t.match(c.r, i)
	case *condNot:
		return !t.match(c.c, i)
	case *condCmp:
		if c.f.scope == "literal" {
			return c.val.b
		}
		v, ok := t.value(c.f, i)
		if c.val.kind == vNil && c.op != "" {
			// An empty string counts as missing, as the store's pre-filter sees it.
			present := ok && !(v.kind == vStr && v.s == "")
			return present == (c.op == "!=")
		}
		if !ok {
			return false // a missing attribute matches no comparison, != included (Tempo)
		}
		switch c.op {
		case "":
			return v.kind == vBool && v.b
		case "=~":
			return c.re.MatchString(v.s)
		case "!~":
			return v.s != "" && !c.re.MatchString(v.s)
		case "!=":
			if v.kind == vStr && v.s == "" {
				return false
			}
		}
		return compare(v, c.op, c.val)
	}
	return false
}

// compare applies op to a span's value and a literal. Numbers and durations compare by
// value; = and != otherwise compare the text forms (so span.code = 500 matches the string
// "500" as the store does); ordering compares two strings lexically and nothing else.
func compare(v tval, op string, lit tval) bool {
	numeric := v.kind == lit.kind && (v.kind == vNum || v.kind == vDur)
	var c int
	switch {
	case numeric:
		c = cmpFloat(v.f, lit.f)
	case op == "=" || op == "!=":
		if v.s == lit.s {
			c = 0
		} else {
			c = 1
		}
	case v.kind == vStr && lit.kind == vStr:
		c = strings.Compare(v.s, lit.s)
	default:
		return false
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// value returns field f of span i.
func (t *evalTrace) value(f field, i int) (tval, bool) {
	s := t.spans[i]
	switch f.scope {
	case "span":
		return attrTval(s.sp.Attributes().Get(f.name))
	case "resource":
		return attrTval(s.res.Attributes().Get(f.name))
	case "instrumentation":
		return attrTval(s.scope.Attributes().Get(f.name))
	case "":
		if v, ok := attrTval(s.sp.Attributes().Get(f.name)); ok {
			return v, true
		}
		return attrTval(s.res.Attributes().Get(f.name))
	}
	sp := s.sp
	switch f.name {
	case "name":
		return tval{kind: vStr, s: sp.Name()}, true
	case "duration":
		d := float64(int64(sp.EndTimestamp()) - int64(sp.StartTimestamp()))
		return tval{kind: vDur, f: d, s: time.Duration(d).String()}, true
	case "status":
		return tval{kind: vStatus, s: statusText(sp.Status().Code())}, true
	case "kind":
		return tval{kind: vKind, s: kindText(sp.Kind())}, true
	case "statusMessage":
		return tval{kind: vStr, s: sp.Status().Message()}, true
	case "span:id":
		return tval{kind: vStr, s: sp.SpanID().String()}, true
	case "span:parentID":
		return tval{kind: vStr, s: sp.ParentSpanID().String()}, !sp.ParentSpanID().IsEmpty()
	case "trace:id":
		return tval{kind: vStr, s: sp.TraceID().String()}, true
	case "traceDuration":
		return tval{kind: vDur, f: float64(t.duration), s: t.duration.String()}, true
	case "rootName":
		return tval{kind: vStr, s: t.rootName}, true
	case "rootServiceName":
		return tval{kind: vStr, s: t.rootService}, true
	case "instrumentation:name":
		return tval{kind: vStr, s: s.scope.Name()}, true
	case "instrumentation:version":
		return tval{kind: vStr, s: s.scope.Version()}, true
	}
	return tval{}, false
}

func attrTval(v pcommon.Value, ok bool) (tval, bool) {
	if !ok {
		return tval{}, false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return tval{kind: vNum, f: float64(v.Int()), s: strconv.FormatInt(v.Int(), 10)}, true
	case pcommon.ValueTypeDouble:
		return tval{kind: vNum, f: v.Double(), s: v.AsString()}, true
	case pcommon.ValueTypeBool:
		return tval{kind: vBool, b: v.Bool(), s: v.AsString()}, true
	default:
		return tval{kind: vStr, s: v.AsString()}, true
	}
}

func statusText(c ptrace.StatusCode) string {
	switch c {
	case ptrace.StatusCodeError:
		return "error"
	case ptrace.StatusCodeOk:
		return "ok"
	}
	return "unset"
}

func kindText(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindInternal:
		return "internal"
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	}
	return "unspecified"
}
