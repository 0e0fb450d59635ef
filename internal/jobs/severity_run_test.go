package jobs

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// shippedLogs returns the output log records a sink received, by body (start marker left out).
func shippedLogs(sink *otlpSink) map[string]plog.LogRecord {
	sink.mu.Lock()
	defer sink.mu.Unlock()
	out := map[string]plog.LogRecord{}
	for _, ld := range sink.logs {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			lr := lrs.At(i)
			if _, ok := lr.Attributes().Get(EventAttribute); ok {
				continue
			}
			out[lr.Body().Str()] = lr
		}
	}
	return out
}

// TestRunLogSeverities runs a job that prints in the formats jobs use and checks the
// severity of each shipped record: `severity=error` must find a job's errors.
func TestRunLogSeverities(t *testing.T) {
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL

	script := filepath.Join(t.TempDir(), "job.sh")
	require.NoError(t, os.WriteFile(script, []byte(`
echo 'plain stdout'
echo 'plain stderr' >&2
echo 'ERROR:root:python default format' >&2
echo '2024-01-01 12:00:00,123 - train - WARNING - python asctime format' >&2
echo 'level=error msg="logfmt line"' >&2
echo '{"time":"2024-01-01T12:00:00Z","level":"ERROR","msg":"slog json"}'
echo 'time=2024-01-01T12:00:00Z level=DEBUG msg="slog text"'
echo 'E0102 15:04:05.123456   12345 main.go:12] klog line' >&2
echo '[ERROR] bracketed' >&2
echo 'Traceback (most recent call last):' >&2
echo '  File "train.py", line 3, in <module>' >&2
echo '    main()' >&2
echo 'ValueError: bad learning rate' >&2
echo 'after the traceback' >&2
`), 0o644))
	code, _, err := Run(t.Context(), opts, []string{"sh", script})
	require.NoError(t, err)
	require.Equal(t, 0, code)

	got := shippedLogs(sink)
	f := func(body string, want plog.SeverityNumber, wantText string) {
		t.Helper()
		lr, ok := got[body]
		require.True(t, ok, "no record %q in %v", body, keys(got))
		require.Equal(t, want, lr.SeverityNumber(), body)
		require.Equal(t, wantText, lr.SeverityText(), body)
	}
	f("plain stdout", plog.SeverityNumberInfo, "INFO")
	f("plain stderr", plog.SeverityNumberUnspecified, "")
	f("ERROR:root:python default format", plog.SeverityNumberError, "ERROR")
	f("2024-01-01 12:00:00,123 - train - WARNING - python asctime format", plog.SeverityNumberWarn, "WARN")
	f(`level=error msg="logfmt line"`, plog.SeverityNumberError, "ERROR")
	f(`{"time":"2024-01-01T12:00:00Z","level":"ERROR","msg":"slog json"}`, plog.SeverityNumberError, "ERROR")
	f(`time=2024-01-01T12:00:00Z level=DEBUG msg="slog text"`, plog.SeverityNumberDebug, "DEBUG")
	f("E0102 15:04:05.123456   12345 main.go:12] klog line", plog.SeverityNumberError, "ERROR")
	f("[ERROR] bracketed", plog.SeverityNumberError, "ERROR")
	f("Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    main()\nValueError: bad learning rate",
		plog.SeverityNumberError, "ERROR")
	f("after the traceback", plog.SeverityNumberUnspecified, "")

	stderr := got["plain stderr"]
	v, _ := stderr.Attributes().Get("log.iostream")
	require.Equal(t, "stderr", v.Str())
	tb := got["Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    main()\nValueError: bad learning rate"]
	n, _ := tb.Attributes().Get("loupe.log.lines")
	require.Equal(t, int64(4), n.Int())
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }
