//go:build chdb

package chspans

import (
	"context"
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// cpuTime returns the CPU time used by the process so far (Go and chDB threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
