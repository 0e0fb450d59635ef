package storetest

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// testSpan is one generated span with what the reference filter needs.
type testSpan struct {
	id       pcommon.SpanID
	parent   pcommon.SpanID
	service  string
	host     string
	name     string
	start    time.Time
	end      time.Time
	isError  bool
	attrs    map[string]string // string forms; "i" is an int attribute
	intAttrs map[string]int64
}

type testTrace struct {
	id    pcommon.TraceID
	spans []testSpan // root first
}

// makeTraces generates n three-span traces (frontend -> api -> db) spread over three days.
// Every 4th trace has a failing db span; the root's duration grows with i%10.
func makeTraces(n int) []testTrace {
	step := 3 * 24 * time.Hour / time.Duration(n)
	out := make([]testTrace, n)
	for i := range out {
		var tr testTrace
		binary.BigEndian.PutUint64(tr.id[:8], 0x8000000000000000|uint64(i+1)) // top bit set on purpose
		binary.BigEndian.PutUint64(tr.id[8:], uint64(i)*7919+1)
		start := base.Add(time.Duration(i)*step + 5000)
		rootDur := time.Duration(i%10+1) * 10 * time.Millisecond
		host := fmt.Sprintf("h%d", i%3)
		sid := func(k int) pcommon.SpanID {
			var s pcommon.SpanID
			binary.BigEndian.PutUint64(s[:], uint64(i)*16+uint64(k)+1)
			return s
		}
		route := []string{"/a", "/b"}[i%2]
		tr.spans = []testSpan{
			{id: sid(0), service: "frontend", host: host, name: "GET " + route, start: start, end: start.Add(rootDur),
				attrs: map[string]string{"http.route": route, "i": fmt.Sprint(i)}, intAttrs: map[string]int64{"i": int64(i)}},
			{id: sid(1), parent: sid(0), service: "api", host: host, name: "handle", start: start.Add(time.Millisecond),
				end: start.Add(rootDur - time.Millisecond), attrs: map[string]string{"http.route": route}},
			{id: sid(2), parent: sid(1), service: "db", host: host, name: "query", start: start.Add(2 * time.Millisecond),
				end: start.Add(2*time.Millisecond + time.Duration(i%5+1)*time.Millisecond), isError: i%4 == 1,
				attrs: map[string]string{"db.system": []string{"postgres", "sqlite"}[i%2]}},
		}
		out[i] = tr
	}
	return out
}

// toPtrace builds OTLP traces, one ResourceSpans per service and host.
func toPtrace(traces []testTrace) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.ScopeSpans{}
	for _, tr := range traces {
		for _, s := range tr.spans {
			key := s.service + "/" + s.host
			ss, ok := scopes[key]
			if !ok {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", s.service)
				rs.Resource().Attributes().PutStr("host.name", s.host)
				ss = rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName("storetest")
				scopes[key] = ss
			}
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tr.id)
			sp.SetSpanID(s.id)
			sp.SetParentSpanID(s.parent)
			sp.SetName(s.name)
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.end))
			for k, v := range s.attrs {
				if iv, ok := s.intAttrs[k]; ok {
					sp.Attributes().PutInt(k, iv)
				} else {
					sp.Attributes().PutStr(k, v)
				}
			}
			if s.isError {
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage("boom")
			} else {
				sp.Status().SetCode(ptrace.StatusCodeOk)
			}
		}
	}
	return td
}

// matchSpan is the reference implementation of one span satisfying store.TraceQuery.
func matchSpan(s testSpan, q store.TraceQuery) bool {
	if !q.Start.IsZero() && s.start.Before(q.Start) {
		return false
	}
	if !q.End.IsZero() && !s.start.Before(q.End) {
		return false
	}
	if q.Service != "" && s.service != q.Service {
		return false
	}
	if q.SpanName != "" && s.name != q.SpanName {
		return false
	}
	d := s.end.Sub(s.start)
	if q.MinDuration > 0 && d < q.MinDuration {
		return false
	}
	if q.MaxDuration > 0 && d > q.MaxDuration {
		return false
	}
	if q.ErrorsOnly && !s.isError {
		return false
	}
	for _, a := range q.Attrs {
		v, ok := s.attrs[a.Key]
		if !ok {
			switch a.Key {
			case "service.name":
				v = s.service
			case "host.name":
				v = s.host
			}
		}
		if !matchAttr(a, v) {
			return false
		}
	}
	return true
}

// summarize is the reference TraceSummary of a whole trace.
func summarize(tr testTrace) store.TraceSummary {
	sum := store.TraceSummary{TraceID: tr.id, SpanCount: len(tr.spans)}
	first, last := tr.spans[0].start, tr.spans[0].end
	for _, s := range tr.spans {
		if s.start.Before(first) {
			first = s.start
		}
		if s.end.After(last) {
			last = s.end
		}
		if s.isError {
			sum.ErrorCount++
		}
		if !slices.Contains(sum.Services, s.service) {
			sum.Services = append(sum.Services, s.service)
		}
		if s.parent.IsEmpty() {
			sum.RootService, sum.RootSpanName = s.service, s.name
		}
	}
	slices.Sort(sum.Services)
	sum.Start = first
	sum.Duration = last.Sub(first)
	return sum
}

// wantTraces returns summaries of matching traces, most recent start first.
func wantTraces(traces []testTrace, q store.TraceQuery) []store.TraceSummary {
	var out []store.TraceSummary
	for i := len(traces) - 1; i >= 0; i-- {
		if slices.ContainsFunc(traces[i].spans, func(s testSpan) bool { return matchSpan(s, q) }) {
			out = append(out, summarize(traces[i]))
		}
	}
	return out
}

// richTrace is one trace using every field and attribute type OTLP has, over two
// resources and three scopes, for the exact round trip test.
func richTrace() (ptrace.Traces, pcommon.TraceID) {
	tid := pcommon.TraceID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	td := ptrace.NewTraces()
	start := base.Add(30 * time.Hour)
	putAll := func(m pcommon.Map) {
		m.PutStr("str", "text with \"quotes\" and ☃")
		m.PutInt("int", -42)
		m.PutInt("big", 1<<62)
		m.PutDouble("double", 3.25)
		m.PutDouble("whole.double", 2)
		m.PutBool("bool", false)
		m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2, 0xff})
		arr := m.PutEmptySlice("array")
		arr.AppendEmpty().SetInt(1)
		arr.AppendEmpty().SetStr("two")
		arr.AppendEmpty().SetDouble(3.5)
		nested := m.PutEmptyMap("map")
		nested.PutStr("inner", "v")
		nested.PutEmptySlice("empty.list")
		nested.PutEmptyMap("deeper").PutBool("ok", true)
		m.PutEmpty("empty")
	}
	var n uint64
	newSpan := func(ss ptrace.ScopeSpans, parent pcommon.SpanID, name string) ptrace.Span {
		n++
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], 0xf000000000000000+n)
		sp.SetSpanID(sid)
		sp.SetParentSpanID(parent)
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(n) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(n)*time.Millisecond + 123456)))
		return sp
	}

	rs1 := td.ResourceSpans().AppendEmpty()
	rs1.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rs1.Resource().Attributes().PutStr("service.name", "rich")
	putAll(rs1.Resource().Attributes())
	ss1 := rs1.ScopeSpans().AppendEmpty()
	ss1.Scope().SetName("scope.one")
	ss1.Scope().SetVersion("1.2.3")
	ss1.Scope().Attributes().PutStr("scope.attr", "x")
	ss1.SetSchemaUrl("https://example.com/scope")
	root := newSpan(ss1, pcommon.SpanID{}, "root")
	root.SetKind(ptrace.SpanKindServer)
	root.SetFlags(1)
	root.TraceState().FromRaw("vendor=abc,other=1")
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("it failed")
	putAll(root.Attributes())
	root.SetDroppedAttributesCount(3)
	root.SetDroppedEventsCount(4)
	root.SetDroppedLinksCount(5)
	ev := root.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond + 5)))
	ev.Attributes().PutStr("exception.message", "oops")
	putAll(ev.Attributes())
	ev.SetDroppedAttributesCount(1)
	root.Events().AppendEmpty().SetName("bare event")
	ln := root.Links().AppendEmpty()
	ln.SetTraceID(pcommon.TraceID{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	ln.SetSpanID(pcommon.SpanID{0xff, 1, 2, 3, 4, 5, 6, 7})
	ln.TraceState().FromRaw("k=v")
	ln.SetFlags(1)
	ln.Attributes().PutInt("link.n", 1)
	ln.SetDroppedAttributesCount(2)
	root.Links().AppendEmpty().SetSpanID(pcommon.SpanID{1})

	child := newSpan(ss1, root.SpanID(), "child")
	child.SetKind(ptrace.SpanKindClient)
	child.Status().SetCode(ptrace.StatusCodeOk)
	ss2 := rs1.ScopeSpans().AppendEmpty()
	ss2.Scope().SetName("scope.two")
	newSpan(ss2, child.SpanID(), "in scope two").SetKind(ptrace.SpanKindInternal)

	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("service.name", "rich-db")
	ss3 := rs2.ScopeSpans().AppendEmpty()
	ss3.Scope().SetName("db.lib")
	db := newSpan(ss3, child.SpanID(), "SELECT")
	db.SetKind(ptrace.SpanKindClient)
	db.Attributes().PutStr("db.statement", "SELECT 1")
	return td, tid
}
