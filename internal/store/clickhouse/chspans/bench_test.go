//go:build chdb

package chspans

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// The benchmarks below are the embedded backend's BenchmarkWriteTraces and
// BenchmarkGetTrace (store/duck/bench_test.go, spans_read_bench_test.go) on the same
// data, so that the two backends can be compared in one run of each. chDB is ClickHouse
// in this process, not a server: the figures include no network nor native-protocol
// encoding, and inserts go as SQL text (chsql.InsertValues) rather than clickhouse-go's
// binary columns.

var getTraceSpans = flag.Int("gettrace.spans", 500_000, "spans written before BenchmarkGetTrace (traces of 10 spans)")

// BenchmarkWriteTraces writes batches of spans; spans/s is wall time, cpu-ns/span the CPU
// time of the whole process (Go and ClickHouse threads), B/span the bytes on disk after
// the run (parts as written, before background merges).
func BenchmarkWriteTraces(b *testing.B) {
	for _, batch := range []int{512, 1000, 10_000} { // 512: the OpenTelemetry SDK's default batch
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			const distinct = 20
			batches := make([]ptrace.Traces, distinct)
			for i := range batches {
				batches[i] = benchTraces(i*batch, batch)
			}
			s := newStore(b, chsqltest.Open(b))
			ctx := context.Background()
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				td := batches[i%distinct]
				if i >= distinct {
					b.StopTimer()
					td = benchTraces(i*batch, batch)
					b.StartTimer()
				}
				c0 := cpuTime()
				if err := s.WriteTraces(ctx, td); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.StopTimer()
			spans := float64(b.N * batch)
			b.ReportMetric(spans/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/spans, "cpu-ns/span")
			sizes, err := s.DiskBytes(ctx)
			require.NoError(b, err)
			b.ReportMetric(float64(sizes[store.SignalSpans])/spans, "B/span")
		})
	}
}

// BenchmarkGetTrace measures trace by id on -gettrace.spans spans (traces of 10 spans,
// written in batches of 10,000 and merged with OPTIMIZE FINAL first, as a server's
// background merges would have done).
func BenchmarkGetTrace(b *testing.B) {
	n := *getTraceSpans
	ctx := context.Background()
	s := newStore(b, chsqltest.Open(b))
	const batch = 10_000
	for first := 0; first < n; first += batch {
		require.NoError(b, s.WriteTraces(ctx, benchTraces(first, min(batch, n-first))))
	}
	for _, t := range tables {
		require.NoError(b, s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.table(t)+" FINAL"))
	}
	traces := n / 10
	b.ResetTimer()
	b.ReportAllocs()
	c0 := cpuTime()
	for i := range b.N {
		td, err := s.GetTrace(ctx, benchTraceID(uint64((i*7919)%traces)))
		if err != nil || td.SpanCount() != 10 {
			b.Fatalf("trace %d: %v, %d spans", i, err, td.SpanCount())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
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

// cpuTime returns the CPU time used by the process so far (Go and chDB threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
