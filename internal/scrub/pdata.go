package scrub

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Logs scrubs ld in place: resource, scope and record attributes, and bodies (strings, and
// the keys and values of structured bodies). ld must not be read-only.
func (s *Scrubber) Logs(ld plog.Logs) {
	c := counter{signal: "logs"}
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		s.attrs(rl.Resource().Attributes(), &c)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			s.attrs(sl.Scope().Attributes(), &c)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				s.attrs(lr.Attributes(), &c)
				s.value("", lr.Body(), &c)
			}
		}
	}
	s.flush(&c)
}

// Traces scrubs td in place: resource, scope, span, event and link attributes. Span names
// are left alone: they are low-cardinality by convention (a route, not a URL).
func (s *Scrubber) Traces(td ptrace.Traces) {
	c := counter{signal: "spans"}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		s.attrs(rs.Resource().Attributes(), &c)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			s.attrs(ss.Scope().Attributes(), &c)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				s.attrs(span.Attributes(), &c)
				events := span.Events()
				for e := 0; e < events.Len(); e++ {
					s.attrs(events.At(e).Attributes(), &c)
				}
				links := span.Links()
				for l := 0; l < links.Len(); l++ {
					s.attrs(links.At(l).Attributes(), &c)
				}
			}
		}
	}
	s.flush(&c)
}

func (s *Scrubber) attrs(m pcommon.Map, c *counter) {
	m.Range(func(k string, v pcommon.Value) bool {
		s.value(k, v, c)
		return true
	})
}

// value scrubs v stored under key. A key that names a secret has its string, bytes and
// string-slice values replaced whole; numbers and booleans are not secrets (a key named
// "token_count" holds an int). Other strings are scanned as text; maps and slices are
// walked.
func (s *Scrubber) value(key string, v pcommon.Value, c *counter) {
	var r *Rule
	if key != "" {
		r = s.keyRule(key)
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if r != nil {
			if v.Str() != "" && !redacted(v.Str()) {
				c.add(r.Name)
				v.SetStr(s.replacement(r, v.Str()))
			}
			return
		}
		if t := s.text(v.Str(), c); t != v.Str() {
			v.SetStr(t)
		}
	case pcommon.ValueTypeBytes:
		if r != nil && v.Bytes().Len() > 0 {
			c.add(r.Name)
			v.SetStr(s.replacement(r, string(v.Bytes().AsRaw())))
		}
	case pcommon.ValueTypeMap:
		s.attrs(v.Map(), c)
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			// The elements of a secret key's slice (HTTP header values) are secret too.
			s.value(key, sl.At(i), c)
		}
	}
}
