package pipeline

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// BenchmarkValidateTraces is BenchmarkValidateLogs for one batch of the bench harness's
// traces (about 1,000 spans, all valid).
func BenchmarkValidateTraces(b *testing.B) {
	g, err := loadgen.NewTraceGen(loadgen.DefaultTraceOptions())
	if err != nil {
		b.Fatal(err)
	}
	batch, err := g.Next()
	if err != nil {
		b.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(batch.Body); err != nil {
		b.Fatal(err)
	}
	td := req.Traces()
	n := td.SpanCount()
	v := validator{l: DefaultConfig().Limits}
	b.ReportAllocs()
	for b.Loop() {
		var t tally
		v.traces(td, &t)
		if t.total() != 0 || td.SpanCount() != n {
			b.Fatalf("rejected %d, left %d of %d", t.total(), td.SpanCount(), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}
