package jobs

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func testRecord() *Record {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &Record{RunID: "0af7651916cd43dd8448eb211c80319c", Name: "train", Tags: map[string]string{"lr": "0.1"},
		Command: []string{"python", "train.py"}, CommandLine: "python train.py", Cwd: "/w", User: "alice",
		StartTime: start, EndTime: start.Add(90 * time.Second), DurationSeconds: 90, Status: "killed",
		ExitCode: 137, Signal: "SIGKILL", Timezone: "UTC",
		Host:      Host{Hostname: "node01", OS: "linux", KernelVersion: "6.1", CPULogical: 64, MemoryTotalBytes: 1 << 38},
		Scheduler: &Scheduler{Type: "slurm", JobID: "42", Vars: map[string]string{"SLURM_JOB_ID": "42", "SLURM_NTASKS": "4"}},
		Git:       &Git{Root: "/w", Commit: "abc", Branch: "main", Dirty: true, RemoteURL: "https://h/r.git"},
		Python:    &Python{Version: "3.12.1", Executable: "/usr/bin/python3", Packages: []Package{{"numpy", "2.0.0"}}},
		Samples:   []Sample{{T: 1, CPUPercent: 150, RSSBytes: 1 << 30}},
		Telemetry: Telemetry{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"},
	}
}

func TestRunSpanCarriesMetadata(t *testing.T) {
	rec := testRecord()
	td := runSpan(rec)
	rs := td.ResourceSpans().At(0)
	got := rs.Resource().Attributes().AsRaw()
	for k, want := range map[string]any{
		"service.name": "train", "loupe.run.id": rec.RunID, "loupe.run.tag.lr": "0.1",
		"process.command_line": "python train.py", "host.name": "node01", "os.version": "6.1",
		"host.cpu.logical_count": int64(64), "slurm.job.id": "42", "slurm.ntasks": "4",
		"vcs.ref.head.revision": "abc", "vcs.ref.head.name": "main", "vcs.dirty": true,
		"vcs.repository.url.full": "https://h/r.git", "python.version": "3.12.1",
	} {
		require.Equal(t, want, got[k], k)
	}
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, "train", sp.Name())
	require.Equal(t, pcommon.NewTimestampFromTime(rec.EndTime), sp.EndTimestamp())
	require.Equal(t, "killed by SIGKILL", sp.Status().Message())
	pk, _ := sp.Attributes().Get("python.packages")
	require.Equal(t, []any{"numpy==2.0.0"}, pk.Slice().AsRaw())
	raw, _ := sp.Attributes().Get("loupe.run.record")
	var back Record
	require.NoError(t, json.Unmarshal([]byte(raw.Str()), &back))
	require.Equal(t, rec.RunID, back.RunID)
	require.Nil(t, back.Samples, "samples travel as metrics, not in the span")
}

func TestLogsOfMarksBinaryAndTruncatedLines(t *testing.T) {
	rec := testRecord()
	now := time.Now()
	ld := logsOf(rec, []logEntry{
		{Line: Line{Stream: "stdout", Time: now, Body: []byte("ok\r"), Size: 3}, Lines: 1},
		{Line: Line{Stream: "stderr", Time: now, Body: []byte{'a', 0xff}, Size: 2}, Lines: 1},
		{Line: Line{Stream: "stdout", Time: now, Body: []byte("cut"), Size: 1 << 20, Truncated: true}, Lines: 1},
	})
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 3, lrs.Len())
	require.Equal(t, "ok", lrs.At(0).Body().Str())
	require.Equal(t, map[string]any{"stream": "stdout", "log.iostream": "stdout"}, lrs.At(0).Attributes().AsRaw())
	require.Equal(t, "a\uFFFD", lrs.At(1).Body().Str())
	require.Equal(t, map[string]any{"stream": "stderr", "log.iostream": "stderr", "loupe.log.invalid_utf8": true}, lrs.At(1).Attributes().AsRaw())
	require.Equal(t, map[string]any{"stream": "stdout", "log.iostream": "stdout", "loupe.log.truncated": true,
		"loupe.log.original_size": int64(1 << 20)}, lrs.At(2).Attributes().AsRaw())
	require.Equal(t, rec.Telemetry.SpanID, lrs.At(2).SpanID().String())
}

func TestMetricsOfSamples(t *testing.T) {
	rec := testRecord()
	md := metricsOf(rec, rec.Samples, rec.StartTime)
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	byName := map[string]float64{}
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		switch m.Type() {
		case pmetric.MetricTypeSum:
			require.True(t, m.Sum().IsMonotonic())
			byName[m.Name()] = m.Sum().DataPoints().At(0).DoubleValue()
		default:
			byName[m.Name()] = m.Gauge().DataPoints().At(0).DoubleValue()
		}
	}
	require.Equal(t, 1.5, byName["loupe.run.cpu.utilization"])
	require.Equal(t, float64(1<<30), byName["loupe.run.memory.rss"])
}

// A run from a big environment keeps its span: the package list attribute is left off
// when it would pass the server's default attribute value limit; the record has it all.
func TestRunSpanOfLargeEnvironment(t *testing.T) {
	rec := testRecord()
	rec.Python = &Python{Version: "3.11.7"}
	for i := range 1000 {
		rec.Python.Packages = append(rec.Python.Packages, Package{Name: fmt.Sprintf("package-%04d", i), Version: "1.2.3"})
	}
	sp := runSpan(rec).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	_, ok := sp.Attributes().Get("python.packages")
	require.False(t, ok, "a 1,000-package list is not an attribute")
	v, ok := sp.Attributes().Get(RecordAttribute)
	require.True(t, ok)
	require.Contains(t, v.Str(), `"name":"package-0999"`)
}
