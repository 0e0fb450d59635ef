package jobs

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestRunSendsStartMarkerFirst(t *testing.T) {
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	opts.Name = "marked"
	opts.Tags = map[string]string{"stage": "test"}
	code, rec := runSh(t, opts, "echo out-line; exit 3")
	require.Equal(t, 3, code)

	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.NotEmpty(t, sink.logs)
	first := sink.logs[0]
	require.Equal(t, 1, first.LogRecordCount(), "the start marker is a request of its own")
	sl := first.ResourceLogs().At(0).ScopeLogs().At(0)
	require.Equal(t, ScopeName, sl.Scope().Name())
	lr := sl.LogRecords().At(0)
	require.Equal(t, "run started: "+rec.CommandLine, lr.Body().Str())
	require.Equal(t, rec.Telemetry.TraceID, lr.TraceID().String())
	require.Equal(t, rec.Telemetry.SpanID, lr.SpanID().String())
	require.Equal(t, rec.StartTime.UnixNano(), lr.Timestamp().AsTime().UnixNano())
	require.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	ev, ok := lr.Attributes().Get(EventAttribute)
	require.True(t, ok)
	require.Equal(t, "started", ev.Str())
	raw, ok := lr.Attributes().Get(RecordAttribute)
	require.True(t, ok)
	var started Record
	require.NoError(t, json.Unmarshal([]byte(raw.Str()), &started))
	require.Equal(t, "running", started.Status)
	require.Equal(t, rec.RunID, started.RunID)
	require.Equal(t, "marked", started.Name)
	require.Equal(t, map[string]string{"stage": "test"}, started.Tags)
	require.Equal(t, rec.PID, started.PID)
	require.NotZero(t, started.PID)
	require.True(t, started.EndTime.IsZero())
	require.NotEmpty(t, started.Host.Hostname) // os.Hostname: the capture has not finished
	svc, _ := first.ResourceLogs().At(0).Resource().Attributes().Get("service.name")
	require.Equal(t, "marked", svc.Str())

	// The final record is the span's, and says how the run ended.
	require.Len(t, sink.traces, 1)
	final, _ := sink.traces[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(RecordAttribute)
	require.Contains(t, final.Str(), `"status":"failed"`)
}

// A server that does not answer the start marker must not hold the job back: the child
// runs while the request is still waiting.
func TestStartMarkerDoesNotDelayTheJob(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "child-ran")
	childRan := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/logs" {
			select {
			case childRan <- waitForFile(marker, 20*time.Second):
			default:
			}
		}
	}))
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	opts.SendTimeout = 30 * time.Second
	code, _ := runSh(t, opts, "touch "+marker)
	require.Equal(t, 0, code)
	require.True(t, <-childRan, "the child had not run when the start marker reached the server")
}

// A run that cannot start sends no start marker: its record is final at once.
func TestNoStartMarkerWhenTheCommandIsMissing(t *testing.T) {
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	code, _, err := Run(t.Context(), opts, []string{"/nonexistent/command"})
	require.NoError(t, err)
	require.Equal(t, ExitNotFound, code)
	_, nl, _ := sink.counts()
	require.Zero(t, nl)
}

func waitForFile(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
