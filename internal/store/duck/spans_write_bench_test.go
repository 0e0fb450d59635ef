package duck

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// loadgenTraces returns one batch of the bench harness's traces (about 1,000 spans in
// whole traces, grouped by service and host), decoded as the OTLP receiver decodes it.
func loadgenTraces(tb testing.TB, opts loadgen.TraceOptions) ptrace.Traces {
	g, err := loadgen.NewTraceGen(opts)
	if err != nil {
		tb.Fatal(err)
	}
	batch, err := g.Next()
	if err != nil {
		tb.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(batch.Body); err != nil {
		tb.Fatal(err)
	}
	return req.Traces()
}

// BenchmarkSpanRows measures the Go side of WriteTraces without DuckDB: flattening one
// batch of the bench harness's traces into rows, and writing the rows into (Go-memory)
// vectors as the appender does.
func BenchmarkSpanRows(b *testing.B) {
	td := loadgenTraces(b, loadgen.DefaultTraceOptions())
	n := td.SpanCount()
	a := memAppender(21) // the columns of spansSchema
	defer a.resetMem()
	b.ReportAllocs()
	for b.Loop() {
		rows, _, names, _, err := spanRows(td)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != n {
			b.Fatalf("%d rows of %d spans", len(rows), n)
		}
		for i := range rows {
			if err := rows[i].appendTo(a); err != nil {
				b.Fatal(err)
			}
		}
		a.resetMem()
		spanRowPool.put(rows) // as WriteTraces does
		putSpanNames(names)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}
