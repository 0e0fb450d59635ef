package pipeline

import (
	"testing"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// BenchmarkValidateLogs measures the limits and UTF-8 checks on one batch of 1,000
// records as the bench harness sends them (10 attributes each, all valid).
func BenchmarkValidateLogs(b *testing.B) {
	g, err := loadgen.NewLogGen(loadgen.DefaultLogOptions())
	if err != nil {
		b.Fatal(err)
	}
	ld := g.Logs(1000)
	v := validator{l: DefaultConfig().Limits}
	b.ReportAllocs()
	for b.Loop() {
		var t tally
		v.logs(ld, &t)
		if t.total() != 0 || ld.LogRecordCount() != 1000 {
			b.Fatalf("rejected %d, left %d", t.total(), ld.LogRecordCount())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}
