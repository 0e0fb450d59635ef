package pipeline

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type nopWriter struct{}

func (nopWriter) WriteLogs(context.Context, plog.Logs) error          { return nil }
func (nopWriter) WriteTraces(context.Context, ptrace.Traces) error    { return nil }
func (nopWriter) WriteMetrics(context.Context, pmetric.Metrics) error { return nil }

// BenchmarkConsumeLogsParallel measures limits + queue + group commit overhead with a
// store that does nothing, from many concurrent callers (100 records per request, 10
// attributes each).
func BenchmarkConsumeLogsParallel(b *testing.B) {
	p := New(DefaultConfig(), Writers{Logs: nopWriter{}, Spans: nopWriter{}, Metrics: nopWriter{}}, nil, nil)
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	const perRequest = 100
	template := plog.NewLogs()
	sl := template.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for range perRequest {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("user 42 added item 7 to cart in 12ms")
		for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
			lr.Attributes().PutStr("attr."+k, "value-"+k)
		}
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ld := plog.NewLogs() // the pipeline takes ownership: a copy per call, timed too
			template.CopyTo(ld)
			if err := p.ConsumeLogs(context.Background(), ld); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*perRequest/b.Elapsed().Seconds(), "items/s")
}
