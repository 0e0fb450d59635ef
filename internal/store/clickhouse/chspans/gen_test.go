//go:build chdb

package chspans

import (
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// genTraces returns n traces of spansPer spans each, over services svc0..svc4, starting
// at start, one trace every step: realistic enough for index and benchmark tests. Trace ids
// are pseudo-random (as real ones are), derived from seed and the trace's index.
func genTraces(seed uint64, n, spansPer int, start time.Time, step time.Duration) (ptrace.Traces, []pcommon.TraceID) {
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.ScopeSpans{}
	ids := make([]pcommon.TraceID, n)
	for i := range n {
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], mix(seed, uint64(i)))
		binary.BigEndian.PutUint64(tid[8:], mix(seed+1, uint64(i)))
		ids[i] = tid
		t0 := start.Add(time.Duration(i) * step)
		var parent pcommon.SpanID
		for k := range spansPer {
			svc := fmt.Sprintf("svc%d", (i+k)%5)
			ss, ok := scopes[svc]
			if !ok {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", svc)
				rs.Resource().Attributes().PutStr("host.name", "host-"+svc)
				ss = rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName("gen")
				scopes[svc] = ss
			}
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], mix(seed+2, uint64(i*spansPer+k)))
			sp.SetSpanID(sid)
			sp.SetParentSpanID(parent)
			parent = sid
			sp.SetName(fmt.Sprintf("op%d", k%7))
			sp.SetKind(ptrace.SpanKindServer)
			s := t0.Add(time.Duration(k) * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.Add(time.Duration(1+(i*7+k)%50) * time.Millisecond)))
			sp.Attributes().PutStr("http.route", fmt.Sprintf("/r/%d", i%40))
			sp.Attributes().PutInt("http.status_code", int64(200+(i%3)*100))
			sp.Attributes().PutStr("user.id", fmt.Sprintf("u%d", i))
			if (i+k)%17 == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
	}
	return td, ids
}

// mix is splitmix64's finaliser: distinct inputs give distinct, random-looking outputs.
func mix(seed, x uint64) uint64 {
	z := seed*0x9E3779B97F4A7C15 + x + 1
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
