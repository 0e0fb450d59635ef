package duck

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// The data below imitates a web service's telemetry: 5 services on 4 hosts, templated
// bodies, 10 attributes per record (a mix of low- and high-cardinality strings, ints, a
// double and a bool), and a trace id on half of the log records.

var (
	benchServices = []string{"api", "checkout", "cart", "auth", "search"}
	benchRoutes   = []string{"/api/users/{id}", "/api/cart", "/api/checkout", "/login", "/search", "/api/items/{id}"}
	benchMethods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	benchRegions  = []string{"eu-west-1", "us-east-1", "ap-south-1"}
)

var benchStart = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

func benchTraceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], n*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint64(id[8:], (n+1)*0xbf58476d1ce4e5b9)
	return id
}

// genLogs returns n records starting at record number first, 1ms apart.
func genLogs(first, n int) plog.Logs {
	rng := rand.New(rand.NewPCG(uint64(first), 1))
	ld := plog.NewLogs()
	var scopes [20]plog.ScopeLogs
	for i := range scopes {
		rl := ld.ResourceLogs().AppendEmpty()
		res := rl.Resource().Attributes()
		res.PutStr("service.name", benchServices[i%len(benchServices)])
		res.PutStr("host.name", fmt.Sprintf("node-%d", i/len(benchServices)))
		res.PutStr("service.version", "1.4.2")
		res.PutStr("deployment.environment", "production")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("github.com/example/app/log")
		scopes[i] = sl
	}
	for k := range n {
		i := first + k
		lr := scopes[rng.IntN(len(scopes))].LogRecords().AppendEmpty()
		ts := benchStart.Add(time.Duration(i) * time.Millisecond)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(rng.IntN(5000)) * time.Microsecond)))
		route := benchRoutes[rng.IntN(len(benchRoutes))]
		method := benchMethods[rng.IntN(len(benchMethods))]
		status := []int64{200, 200, 200, 200, 201, 304, 404, 500}[rng.IntN(8)]
		dur := rng.ExpFloat64() * 40
		switch {
		case status >= 500:
			lr.SetSeverityNumber(plog.SeverityNumberError)
			lr.SetSeverityText("ERROR")
			lr.Body().SetStr(fmt.Sprintf("%s %s failed: upstream timeout after %.1fms (attempt %d)", method, route, dur, rng.IntN(3)+1))
		case status >= 400:
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
			lr.Body().SetStr(fmt.Sprintf("%s %s returned %d for user %d", method, route, status, rng.IntN(100000)))
		default:
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr(fmt.Sprintf("%s %s %d in %.2fms bytes=%d", method, route, status, dur, rng.IntN(50000)))
		}
		a := lr.Attributes()
		a.PutStr("http.method", method)
		a.PutStr("http.route", route)
		a.PutInt("http.status_code", status)
		a.PutInt("user.id", int64(rng.IntN(100000)))
		a.PutStr("request.id", fmt.Sprintf("%016x", rng.Uint64()))
		a.PutDouble("duration_ms", dur)
		a.PutStr("cloud.region", benchRegions[rng.IntN(len(benchRegions))])
		a.PutStr("k8s.pod.name", fmt.Sprintf("app-%d-7f9c", rng.IntN(12)))
		a.PutInt("thread.id", int64(rng.IntN(64)))
		a.PutBool("cache.hit", rng.IntN(2) == 0)
		if rng.IntN(2) == 0 {
			lr.SetTraceID(benchTraceID(uint64(i / 10)))
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], rng.Uint64())
			lr.SetSpanID(sid)
		}
	}
	return ld
}

// genTraces returns n spans starting at span number first: traces of 10 spans over
// 3 services, 1ms apart, with 10 attributes on each span and an event on 1 in 10.
func genTraces(first, n int) ptrace.Traces {
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

// cpuTime returns the CPU time used by the process so far (Go and DuckDB threads). On a
// shared machine it measures the store's cost better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func openBench(b *testing.B) (*Store, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(b, err)
	return s, path
}

// BenchmarkWriteLogs appends one batch per iteration and reports records/s and the
// database file size per record after Close. Run with -benchtime=100x or more: with few
// iterations the fixed size of an empty database dominates B/record.
func BenchmarkWriteLogs(b *testing.B) {
	for _, batch := range []int{512, 1000, 10_000} { // 512: the OpenTelemetry SDK's default batch
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			// Batches are generated ahead so that the timer measures the store only.
			const distinct = 20
			batches := make([]plog.Logs, distinct)
			for i := range batches {
				batches[i] = genLogs(i*batch, batch)
			}
			s, path := openBench(b)
			ctx := context.Background()
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				ld := batches[i%distinct]
				if i >= distinct {
					b.StopTimer()
					ld = genLogs(i*batch, batch)
					b.StartTimer()
				}
				c0 := cpuTime()
				if err := s.WriteLogs(ctx, ld); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.StopTimer()
			records := float64(b.N * batch)
			b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record")
			// The final checkpoint compresses what is still only in the WAL: part of the
			// cost of ingest, reported with it.
			c0 := cpuTime()
			require.NoError(b, s.Close())
			cpu += cpuTime() - c0
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/record+close")
			b.ReportMetric(float64(fileBytes(path))/records, "B/record")
		})
	}
}

// BenchmarkWriteTraces is BenchmarkWriteLogs for spans.
func BenchmarkWriteTraces(b *testing.B) {
	for _, batch := range []int{512, 1000, 10_000} { // 512: the OpenTelemetry SDK's default batch
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			const distinct = 20
			batches := make([]ptrace.Traces, distinct)
			for i := range batches {
				batches[i] = genTraces(i*batch, batch)
			}
			s, path := openBench(b)
			ctx := context.Background()
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				td := batches[i%distinct]
				if i >= distinct {
					b.StopTimer()
					td = genTraces(i*batch, batch)
					b.StartTimer()
				}
				c0 := cpuTime()
				if err := s.WriteTraces(ctx, td); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.StopTimer()
			records := float64(b.N * batch)
			b.ReportMetric(records/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/span")
			// The final checkpoint compresses what is still only in the WAL: part of the
			// cost of ingest, reported with it.
			c0 := cpuTime()
			require.NoError(b, s.Close())
			cpu += cpuTime() - c0
			b.ReportMetric(float64(cpu.Nanoseconds())/records, "cpu-ns/span+close")
			b.ReportMetric(float64(fileBytes(path))/records, "B/span")
		})
	}
}

var lookupRows = flag.Int("lookup.rows", 1_000_000, "log records and spans written before BenchmarkLookup")

// BenchmarkLookup measures the read paths on benchRows log records and spans (written once,
// in batches of 10,000, before the timed part; the database is closed and reopened so
// reads come from the file as after a restart).
func BenchmarkLookup(b *testing.B) {
	benchRows := *lookupRows
	const batch = 10_000
	s, path := openBench(b)
	ctx := context.Background()
	for first := 0; first < benchRows; first += batch {
		require.NoError(b, s.WriteLogs(ctx, genLogs(first, batch)))
		require.NoError(b, s.WriteTraces(ctx, genTraces(first, batch)))
	}
	require.NoError(b, s.Close())
	s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	// A needle that occurs once: a request id of one record in the middle.
	var needleID string
	needle := genLogs(benchRows/2, 1)
	for i := 0; i < needle.ResourceLogs().Len(); i++ {
		lrs := needle.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
		if lrs.Len() > 0 {
			v, _ := lrs.At(0).Attributes().Get("request.id")
			needleID = v.Str()
		}
	}
	// Put the needle in a body too.
	body := plog.NewLogs()
	lr := body.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(benchRows/3) * time.Millisecond)))
	lr.Body().SetStr("payment declined for order ZQX-4417-needle")
	require.NoError(b, s.WriteLogs(ctx, body))

	rows := func(b *testing.B, q store.LogQuery, want int) {
		n := 0
		for _, err := range s.QueryLogs(ctx, q) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if want >= 0 && n != want {
			b.Fatalf("got %d records, want %d", n, want)
		}
	}
	b.Run("GetTrace", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			td, err := s.GetTrace(ctx, benchTraceID(uint64((i*7919)%(benchRows/10))))
			if err != nil || td.SpanCount() != 10 {
				b.Fatalf("trace %d: %v, %d spans", i, err, td.SpanCount())
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	})
	b.Run("NeedleInBody", func(b *testing.B) {
		for range b.N {
			rows(b, store.LogQuery{LogFilter: store.LogFilter{Contains: "zqx-4417-NEEDLE"}}, 1)
		}
	})
	b.Run("NeedleAttribute", func(b *testing.B) {
		for range b.N {
			rows(b, store.LogQuery{LogFilter: store.LogFilter{Attrs: []store.AttrFilter{
				{Key: "request.id", Op: store.MatchEqual, Value: needleID}}}}, 1)
		}
	})
	b.Run("LogsByTraceID", func(b *testing.B) {
		for range b.N {
			rows(b, store.LogQuery{LogFilter: store.LogFilter{TraceID: benchTraceID(12345)}}, -1)
		}
	})
	b.Run("NewestPage", func(b *testing.B) {
		for range b.N {
			rows(b, store.LogQuery{Limit: 100}, 100)
		}
	})
	b.Run("ErrorsOfOneService", func(b *testing.B) {
		for range b.N {
			rows(b, store.LogQuery{Limit: 100, LogFilter: store.LogFilter{
				Services: []string{"checkout"}, MinSeverity: int32(plog.SeverityNumberError)}}, 100)
		}
	})
	b.Run("CountLogs", func(b *testing.B) {
		for range b.N {
			_, err := s.CountLogs(ctx, store.LogCountQuery{Step: time.Minute})
			require.NoError(b, err)
		}
	})
	b.Run("FindTraces", func(b *testing.B) {
		for range b.N {
			n := 0
			for _, err := range s.FindTraces(ctx, store.TraceQuery{Service: "checkout", ErrorsOnly: true,
				Attrs: []store.AttrFilter{{Key: "http.route", Op: store.MatchEqual, Value: "/login"}}}) {
				require.NoError(b, err)
				n++
			}
			if n == 0 {
				b.Fatal("no traces found")
			}
		}
	})
	b.Run("Services", func(b *testing.B) {
		for range b.N {
			_, err := s.Services(ctx)
			require.NoError(b, err)
		}
	})
}
