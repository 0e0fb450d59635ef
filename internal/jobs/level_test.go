package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestParseLevel(t *testing.T) {
	const (
		none  = plog.SeverityNumberUnspecified
		trace = plog.SeverityNumberTrace
		debug = plog.SeverityNumberDebug
		info  = plog.SeverityNumberInfo
		warn  = plog.SeverityNumberWarn
		error = plog.SeverityNumberError
		fatal = plog.SeverityNumberFatal
	)
	f := func(line string, want plog.SeverityNumber) {
		t.Helper()
		got, ok := parseLevel([]byte(line))
		require.Equal(t, want, got, line)
		require.Equal(t, want != none, ok, line)
	}
	// Python logging: the default format, the cookbook's asctime format, basicConfig's.
	f("ERROR:root:something broke", error)
	f("WARNING:train:lr too high", warn)
	f("CRITICAL:root:out of memory", fatal)
	f("DEBUG:urllib3.connectionpool:Starting new HTTPS connection", debug)
	f("2024-01-01 12:00:00,123 - name - ERROR - msg", error)
	f("2024-01-01 12:00:00,123 - my.pkg.module - INFO - epoch 3", info)
	f("2024-01-01 12:00:00,123 ERROR    train: loss is nan", error)
	f("WARNING: disk almost full", warn)
	f("[ERROR] bad input", error)
	f("[error] nginx style", error)
	f("[2024-01-01 12:00:00,123][WARNING] bracketed", warn)
	f("Traceback (most recent call last):", error)
	f("During handling of the above exception, another exception occurred:", error)
	// logfmt and Go's slog text handler.
	f(`time=2024-01-01T12:00:00.000Z level=ERROR msg="write failed" err="disk full"`, error)
	f(`ts=1 lvl=warn msg=x`, warn)
	f(`level="info" msg=x`, info)
	f(`time=x level=INFO+2 msg=between`, info)
	f(`time=x level=DEBUG-4 msg=below`, debug)
	f(`sublevel=error msg=x`, none)
	// JSON lines: slog, zap, pino/bunyan numbers, GCP severity, Python json loggers, ECS.
	f(`{"time":"2024-01-01T12:00:00Z","level":"ERROR","msg":"x"}`, error)
	f(`{"level":"warn","ts":1704110400,"msg":"zap"}`, warn)
	f(`{"level":50,"time":1,"msg":"pino error"}`, error)
	f(`{"level":30,"msg":"pino info"}`, info)
	f(`{"severity":"CRITICAL","message":"gcp"}`, fatal)
	f(`{"levelname":"WARNING","message":"python-json-logger"}`, warn)
	f(`{"log.level":"debug","message":"ecs"}`, debug)
	f(`{"msg":"no level"}`, none)
	f(`{"level":"chatty"}`, none)
	f(`{not json`, none)
	// glog/klog/absl.
	f("E0102 15:04:05.123456   12345 main.go:12] failed", error)
	f("W0102 15:04:05.123456   12345 main.go:12] slow", warn)
	f("I0102 15:04:05.123456   12345 main.go:12] ok", info)
	f("F0102 15:04:05.123456   12345 main.go:12] dead", fatal)
	f("X0102 15:04:05.123456 nope", none)
	// Other common formats.
	f("12:00:00.123 [main] ERROR com.example.App - failed", error)
	f("2024-01-01 12:00:00.123 | WARNING  | __main__:<module>:1 - loguru", warn)
	f("[2024-01-01T12:00:00Z ERROR mycrate] env_logger", error)
	f("2024-01-01T12:00:00.000000Z  WARN mycrate: tracing", warn)
	f("12:00AM ERR zerolog console", error)
	f("error: could not compile `foo`", error)
	f("warning: unused variable", warn)
	f("Error: ENOENT: no such file", error)
	f("┌ Warning: julia", warn)
	f("[ Info: julia", info)
	f("ERROR: LoadError: julia", error)
	f("Error in read.csv(x) : file not found", error)
	f("Warning message:", warn)
	f("TRACE entering", trace)
	// Lines that declare nothing.
	f("", none)
	f("epoch 1/10 loss=0.53", none)
	f("  File \"train.py\", line 3, in <module>", none)
	f("the error rate is 3%", none)
	f("Errors: 0", none)
	f("the job wrote lines with ERROR in them", none)
}

func TestSeverityText(t *testing.T) {
	for n, want := range map[plog.SeverityNumber]string{0: "", 1: "TRACE", 4: "TRACE", 5: "DEBUG", 9: "INFO",
		13: "WARN", 17: "ERROR", 20: "ERROR", 21: "FATAL", 24: "FATAL"} {
		require.Equal(t, want, severityText(n), n)
	}
}

func TestLogClassifierGroupsTracebacks(t *testing.T) {
	now := time.Now()
	line := func(stream, body string) Line {
		return Line{Stream: stream, Time: now, Body: []byte(body), Size: len(body)}
	}
	c := newLogClassifier()
	var out []logEntry
	for _, l := range []Line{
		line("stderr", "Traceback (most recent call last):"),
		line("stdout", "interleaved stdout"),
		line("stderr", `  File "a.py", line 1, in <module>`),
		line("stderr", "    1/0\r"),
		line("stderr", "ZeroDivisionError: division by zero"),
		line("stderr", "During handling of the above exception, another exception occurred:"),
		line("stderr", "Traceback (most recent call last):"),
		line("stderr", `  File "b.py", line 2, in <module>`),
	} {
		out = c.add(l, out)
	}
	require.Len(t, out, 3, "the second traceback is still open")
	out = c.flush(out)
	require.Len(t, out, 4)
	require.Equal(t, "interleaved stdout", string(out[0].Body))
	require.Equal(t, plog.SeverityNumberInfo, out[0].Severity)
	require.Equal(t, "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    1/0\nZeroDivisionError: division by zero", string(out[1].Body))
	require.Equal(t, plog.SeverityNumberError, out[1].Severity)
	require.Equal(t, 4, out[1].Lines)
	require.Equal(t, len(out[1].Body)+1, out[1].Size, "sizes add up (the \\r is not in the body)")
	require.Equal(t, plog.SeverityNumberError, out[2].Severity)
	require.Equal(t, 2, out[3].Lines)

	// A runaway traceback is cut into bounded records.
	c = newLogClassifier()
	out = c.add(line("stderr", "Traceback (most recent call last):"), nil)
	big := string(make([]byte, 1000))
	for range 2 * maxTracebackLines {
		out = c.add(line("stderr", " "+big), out)
	}
	out = c.flush(out)
	for _, e := range out {
		require.LessOrEqual(t, len(e.Body), maxTracebackBytes)
	}
	require.True(t, out[0].Truncated)
	require.Equal(t, maxTracebackLines, out[0].Lines)
}

// FuzzParseLevel: any line gets a valid severity or none, without panicking, and the
// classifier's records never exceed their bounds.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"ERROR:root:x", `{"level":"warn"}`, `{"level":55}`, "level=error", "E0102 15:04:05.1 x",
		"2024-01-01 12:00:00,123 - n - ERROR - m", "[ warn]", "┌ Error:", "Traceback (most recent call last):", "{", "level="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sev, ok := parseLevel(b)
		if ok != (sev != 0) || sev < 0 || sev > plog.SeverityNumberFatal4 {
			t.Fatalf("parseLevel(%q) = %d, %v", b, sev, ok)
		}
		c := newLogClassifier()
		out := c.add(Line{Stream: "stderr", Body: b, Size: len(b)}, nil)
		out = c.add(Line{Stream: "stderr", Body: b, Size: len(b)}, out)
		for _, e := range c.flush(out) {
			if len(e.Body) > maxTracebackBytes+len(b) || e.Lines < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
