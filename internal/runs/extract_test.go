package runs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/jobs"
)

const testRunID = "0af7651916cd43dd8448eb211c80319c"

func testRecordJSON(t testing.TB, status string) string {
	start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	rec := jobs.Record{RecordVersion: 1, RunID: testRunID, Name: "train", Status: status,
		CommandLine: "python train.py", User: "alice", StartTime: start, Tags: map[string]string{"lr": "0.1"},
		Host:      jobs.Host{Hostname: "node17"},
		Telemetry: jobs.Telemetry{TraceID: testRunID, SpanID: "b7ad6b7169203331"}}
	if status != StatusRunning {
		rec.EndTime, rec.DurationSeconds = start.Add(12300*time.Millisecond), 12.3
		rec.Resources = jobs.Resources{UserCPUSeconds: 1.5, SystemCPUSeconds: 0.2, PeakRSSBytes: 123, MaxRSSBytes: 120}
	}
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	return string(b)
}

func TestParseRecord(t *testing.T) {
	raw := testRecordJSON(t, StatusSucceeded)
	run, err := ParseRecord([]byte(raw))
	require.NoError(t, err)
	start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	require.Equal(t, Summary{RunID: testRunID, Name: "train", Status: "succeeded", Start: start,
		End: start.Add(12300 * time.Millisecond), DurationSeconds: 12.3, Host: "node17", User: "alice",
		CommandLine: "python train.py", Tags: map[string]string{"lr": "0.1"}, PeakRSSBytes: 123,
		MaxRSSBytes: 120, UserCPUSeconds: 1.5, SysCPUSeconds: 0.2, TraceID: testRunID}, run.Summary)
	require.Equal(t, raw, string(run.Record))

	run, err = ParseRecord([]byte(testRecordJSON(t, StatusRunning)))
	require.NoError(t, err)
	require.True(t, run.End.IsZero(), "a running record has no end")
	require.Zero(t, run.DurationSeconds)

	// Upper-case ids are accepted and filed in lower case; no tags is an empty map.
	run, err = ParseRecord([]byte(`{"record_version":1,"run_id":"0AF7651916CD43DD8448EB211C80319C","status":"killed","start_time":"2026-01-01T00:00:00+02:00"}`))
	require.NoError(t, err)
	require.Equal(t, testRunID, run.RunID)
	require.Equal(t, map[string]string{}, run.Tags)
	require.Equal(t, time.Date(2025, 12, 31, 22, 0, 0, 0, time.UTC), run.Start)
}

func TestParseRecordRejects(t *testing.T) {
	f := func(raw, wantErr string) {
		t.Helper()
		_, err := ParseRecord([]byte(raw))
		require.ErrorContains(t, err, wantErr, "input %s", raw)
	}
	ok := `"record_version":1,"run_id":"` + testRunID + `","status":"failed","start_time":"2026-01-01T00:00:00Z"`
	f(`{`+ok+`}x`, "not a JSON record")
	f(`[1]`, "not a JSON record")
	f(`null`, "no record_version")
	f(`{}`, "no record_version")
	f(`{"record_version":1,"run_id":"abc","status":"failed","start_time":"2026-01-01T00:00:00Z"}`, `run_id "abc" is not 32 hex digits`)
	f(`{"record_version":1,"run_id":"0af7651916cd43dd8448eb211c80319z","status":"failed"}`, "is not 32 hex digits")
	f(`{"record_version":1,"run_id":"`+testRunID+`","status":"done","start_time":"2026-01-01T00:00:00Z"}`, `status "done" is not running`)
	f(`{"record_version":1,"run_id":"`+testRunID+`","status":"failed"}`, "no start_time")
	f(`{`+ok+`,"end_time":"9999-01-01T00:00:00Z"}`, "end_time 9999-01-01T00:00:00Z is out of range")
	f(`{`+ok+`,"duration_seconds":-1}`, "negative duration_seconds")
	f(`{`+ok+`,"name":"a`+"\xff"+`"}`, "not valid UTF-8")
	f(`{`+ok+`,"tags":{"a":1}}`, "not a JSON record")
}

func runLogs(scope string, values ...pcommon.Value) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scope)
	for _, v := range values {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("x")
		v.CopyTo(lr.Attributes().PutEmpty(jobs.RecordAttribute))
	}
	// A record of the scope without the attribute: output lines of the run.
	sl.LogRecords().AppendEmpty().Body().SetStr("an output line")
	return ld
}

func TestFromLogs(t *testing.T) {
	good := pcommon.NewValueStr(testRecordJSON(t, StatusRunning))
	ld := runLogs(jobs.ScopeName, good, pcommon.NewValueStr("{"), pcommon.NewValueInt(3))
	runLogs("other", good).ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	e := FromLogs(ld)
	require.Len(t, e.Runs, 1, "the record under another scope is not a run")
	require.Equal(t, StatusRunning, e.Runs[0].Status)
	require.Len(t, e.Rejected, 2)
	require.ErrorContains(t, e.Rejected[0], "not a JSON record")
	require.ErrorContains(t, e.Rejected[1], "loupe.run.record is a Int, want a JSON string")
	require.Equal(t, 6, ld.LogRecordCount(), "the batch is left as it was")

	require.Empty(t, FromLogs(plog.NewLogs()).Runs)
}

func TestFromTraces(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ss.Scope().SetName(jobs.ScopeName)
	ss.Spans().AppendEmpty().Attributes().PutStr(jobs.RecordAttribute, testRecordJSON(t, StatusSucceeded))
	ss.Spans().AppendEmpty().Attributes().PutStr("other", "x")
	other := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	other.Spans().AppendEmpty().Attributes().PutStr(jobs.RecordAttribute, testRecordJSON(t, StatusFailed))
	e := FromTraces(td)
	require.Empty(t, e.Rejected)
	require.Len(t, e.Runs, 1)
	require.Equal(t, StatusSucceeded, e.Runs[0].Status)
}

// FuzzExtractRecord sends arbitrary attribute values through the extraction the ingest path
// runs: it must never panic, and what it accepts must be a record a store can file.
func FuzzExtractRecord(f *testing.F) {
	f.Add(testRecordJSON(f, StatusSucceeded))
	f.Add(testRecordJSON(f, StatusRunning))
	f.Add(`{"record_version":1,"run_id":"0AF7651916CD43DD8448EB211C80319C","status":"killed","start_time":"2026-01-01T00:00:00+02:00"}`)
	f.Add(`{"record_version":1,"run_id":"` + testRunID + `","status":"failed","start_time":"0001-01-01T00:00:01Z"}`)
	f.Add(`{"record_version":2,"run_id":"` + testRunID + `","status":"failed","start_time":"2026-01-01T00:00:00Z","tags":{"":"\u0000"}}`)
	f.Add(`null`)
	f.Add(`{"record_version":1e400}`)
	f.Fuzz(func(t *testing.T, value string) {
		ld := runLogs(jobs.ScopeName, pcommon.NewValueStr(value))
		e := FromLogs(ld)
		require.Equal(t, 1, len(e.Runs)+len(e.Rejected))
		run, err := ParseRecord([]byte(value))
		if err != nil {
			require.Empty(t, e.Runs)
			return
		}
		require.Len(t, e.Runs, 1)
		require.Equal(t, run.Summary, e.Runs[0].Summary)
		require.Equal(t, value, string(run.Record))
		require.Len(t, run.RunID, 32)
		require.Equal(t, strings.ToLower(run.RunID), run.RunID)
		require.Contains(t, []string{StatusRunning, StatusSucceeded, StatusFailed, StatusKilled}, run.Status)
		require.False(t, run.Start.IsZero())
		require.NotNil(t, run.Tags)
		require.GreaterOrEqual(t, run.DurationSeconds, 0.0)
		_ = run.Start.UnixNano() // in range: checked by ParseRecord
		if !Final(run.Status) {
			require.True(t, run.End.IsZero())
		}
	})
}
