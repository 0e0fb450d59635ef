package runs

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// BenchmarkFromLogsWithoutRuns is the cost the Tap adds to every log batch of the ingest
// path: 1,000 application log records in 10 scopes, none of them a run's.
func BenchmarkFromLogsWithoutRuns(b *testing.B) {
	ld := plog.NewLogs()
	for r := range 10 {
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		sl.Scope().SetName("app.module" + string(rune('a'+r)))
		for range 100 {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetStr("GET /api/users 200")
			lr.Attributes().PutStr("http.route", "/api/users")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if e := FromLogs(ld); len(e.Runs) != 0 {
			b.Fatal("found a run")
		}
	}
	b.ReportMetric(float64(b.N)*float64(ld.LogRecordCount())/b.Elapsed().Seconds(), "records/s")
}
