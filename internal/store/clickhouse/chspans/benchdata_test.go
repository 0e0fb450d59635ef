package chspans

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// BenchmarkRows measures the Go side of WriteTraces without ClickHouse: flattening a batch
// into rows and rendering them as the chDB Conn's INSERT text (the native Conn sends the
// rows as binary columns instead, so only the first half applies to it).
func BenchmarkRows(b *testing.B) {
	for _, batch := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			td := benchTraces(0, batch)
			s := &Store{}
			b.ReportAllocs()
			var rowsNs, textNs time.Duration
			for b.Loop() {
				t0 := time.Now()
				rows, err := s.rows(td)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := chsql.InsertValues("spans", insertCols, rows); err != nil {
					b.Fatal(err)
				}
				rowsNs += t1.Sub(t0)
				textNs += time.Since(t1)
			}
			b.ReportMetric(float64(rowsNs.Nanoseconds())/float64(b.N*batch), "rows-ns/span")
			b.ReportMetric(float64(textNs.Nanoseconds())/float64(b.N*batch), "text-ns/span")
		})
	}
}

// The data of the embedded backend's span benchmarks: 5 services on 3 hosts, traces of 10
// spans 1 ms apart, 11 attributes per span, an exception event on one span in ten.
var (
	benchServices = []string{"api", "checkout", "cart", "auth", "search"}
	benchRoutes   = []string{"/api/users/{id}", "/api/cart", "/api/checkout", "/login", "/search", "/api/items/{id}"}
	benchMethods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	benchRegions  = []string{"eu-west-1", "us-east-1", "ap-south-1"}
	benchStart    = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
)

func benchTraceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], n*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint64(id[8:], (n+1)*0xbf58476d1ce4e5b9)
	return id
}

// benchTraces returns spans first..first+n-1 (span i is span i%10 of trace i/10).
func benchTraces(first, n int) ptrace.Traces {
	rng := rand.New(rand.NewPCG(uint64(first), 2))
	td := ptrace.NewTraces()
	var scopes [15]ptrace.ScopeSpans
	for i := range scopes {
		rs := td.ResourceSpans().AppendEmpty()
		res := rs.Resource().Attributes()
		res.PutStr("service.name", benchServices[i%len(benchServices)])
		res.PutStr("host.name", fmt.Sprintf("node-%d", i/len(benchServices)))
		res.PutStr("service.version", "1.4.2")
		res.PutStr("deployment.environment", "production")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		ss.Scope().SetVersion("0.61.0")
		scopes[i] = ss
	}
	for k := range n {
		i := first + k
		traceNo := uint64(i / 10)
		pos := i % 10
		sp := scopes[(int(traceNo)+pos%3)%len(scopes)].Spans().AppendEmpty()
		sp.SetTraceID(benchTraceID(traceNo))
		var sid, parent pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
		if pos > 0 {
			binary.BigEndian.PutUint64(parent[:], uint64(i-pos)+1)
		}
		sp.SetSpanID(sid)
		sp.SetParentSpanID(parent)
		route := benchRoutes[rng.IntN(len(benchRoutes))]
		method := benchMethods[rng.IntN(len(benchMethods))]
		if pos == 0 {
			sp.SetName(method + " " + route)
			sp.SetKind(ptrace.SpanKindServer)
		} else {
			sp.SetName([]string{"SELECT users", "redis GET", "call auth", "render", "cache lookup"}[rng.IntN(5)])
			sp.SetKind(ptrace.SpanKindClient)
		}
		start := benchStart.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(rng.ExpFloat64()*20e6) + time.Microsecond)))
		status := []int64{200, 200, 200, 200, 201, 304, 404, 500}[rng.IntN(8)]
		if status >= 500 {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("upstream timeout")
		}
		a := sp.Attributes()
		a.PutStr("http.method", method)
		a.PutStr("http.route", route)
		a.PutInt("http.status_code", status)
		a.PutInt("user.id", int64(rng.IntN(100000)))
		a.PutStr("request.id", fmt.Sprintf("%016x", rng.Uint64()))
		a.PutStr("net.peer.name", fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(255)))
		a.PutStr("cloud.region", benchRegions[rng.IntN(len(benchRegions))])
		a.PutStr("k8s.pod.name", fmt.Sprintf("app-%d-7f9c", rng.IntN(12)))
		a.PutInt("thread.id", int64(rng.IntN(64)))
		a.PutBool("cache.hit", rng.IntN(2) == 0)
		if rng.IntN(10) == 0 {
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
			ev.Attributes().PutStr("exception.type", "TimeoutError")
			ev.Attributes().PutStr("exception.message", "context deadline exceeded")
		}
	}
	return td
}
