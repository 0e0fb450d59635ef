package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runRecord is the part of a `loupe run --output` JSON line these tests read.
type runRecord struct {
	RunID     string `json:"run_id"`
	Status    string `json:"status"`
	ExitCode  int    `json:"exit_code"`
	Telemetry struct {
		TraceID   string `json:"trace_id"`
		SpanID    string `json:"span_id"`
		SpoolFile string `json:"spool_file"`
	} `json:"telemetry"`
}

// loupeRun runs `loupe run args...` with a private state dir and returns its stdout,
// stderr, exit code and the record it appended to its --output file.
func loupeRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int, rec runRecord) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	cmd := exec.Command(loupeBin, append([]string{"run", "--output", out}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"XDG_STATE_HOME=" + t.TempDir(), "LOUPE_SERVER="}, env...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	b, err := os.ReadFile(out)
	require.NoError(t, err, "stderr: %s", e.String())
	require.NoError(t, json.Unmarshal(b, &rec))
	return o.String(), e.String(), code, rec
}

func TestRunShipsSpanLogsAndMetrics(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	s := startServer(t, t.TempDir())
	script := `echo hello; python3 -c "import sys, logging; print('from python'); print('to stderr', file=sys.stderr); logging.error('disk full'); b = bytearray(64 << 20); import time; time.sleep(1.2)"`
	stdout, stderr, code, rec := loupeRun(t, []string{"SLURM_JOB_ID=777", "SLURM_JOB_NAME=e2e", "MY_SECRET_TOKEN=do-not-record"},
		"--server", s.OTLPHTTP, "--ui-url", s.HTTP, "--name", "e2e-run", "--tag", "stage=e2e", "--monitor-interval", "200ms",
		"--env", "MY_*", "--", "sh", "-c", script)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "hello\nfrom python\n", stdout)
	// The job's stderr, then where to find the run.
	require.Regexp(t, `^to stderr\nERROR:root:disk full\nloupe: run `+rec.RunID+` finished \(exit 0, [0-9.]+m?s\): `+
		regexp.QuoteMeta(s.HTTP+"/runs/"+rec.RunID)+`\n$`, stderr)
	require.Equal(t, "succeeded", rec.Status)
	require.Empty(t, rec.Telemetry.SpoolFile)

	var span apiSpan
	eventually(t, 30*time.Second, func() error {
		var resp apiEnvelope[apiTrace]
		getJSON(t, s.HTTP+"/api/loupe/v1/traces/"+rec.Telemetry.TraceID, 200, &resp)
		for _, sp := range resp.Data.Spans {
			if sp.SpanID == rec.Telemetry.SpanID {
				span = sp
				return nil
			}
		}
		return fmt.Errorf("run span not found in %+v", resp.Data)
	})
	require.Equal(t, "e2e-run", span.Name)
	require.Equal(t, "e2e-run", span.Service)
	require.Empty(t, span.ParentSpanID)
	require.Equal(t, rec.RunID, span.Resource["loupe.run.id"])
	require.Equal(t, "e2e", span.Resource["loupe.run.tag.stage"])
	require.Equal(t, "777", span.Resource["slurm.job.id"])
	require.Equal(t, "e2e", span.Resource["slurm.job_name"])
	require.Contains(t, span.Resource["process.command_line"], "echo hello")
	require.NotEmpty(t, span.Resource["host.name"])
	require.NotEmpty(t, span.Resource["python.version"])
	require.Equal(t, "succeeded", span.Attributes["loupe.run.status"])
	spanJSON, _ := json.Marshal(span)
	require.NotContains(t, string(spanJSON), "do-not-record")

	eventually(t, 30*time.Second, func() error {
		logs := findLogs(t, s, url.Values{"trace_id": {rec.Telemetry.TraceID}})
		got := map[string]string{}
		for _, l := range logs {
			got[l.Body] = fmt.Sprint(l.Attributes["stream"])
		}
		want := map[string]string{"hello": "stdout", "from python": "stdout", "to stderr": "stderr", "ERROR:root:disk full": "stderr"}
		for body, stream := range want {
			if got[body] != stream {
				return fmt.Errorf("log %q: want stream %s, got logs %v", body, stream, got)
			}
		}
		return nil
	})
	// severity=error finds the job's error, and only it.
	errs := findLogs(t, s, url.Values{"trace_id": {rec.Telemetry.TraceID}, "severity": {"error"}})
	require.Len(t, errs, 1)
	require.Equal(t, "ERROR:root:disk full", errs[0].Body)
	require.Equal(t, "ERROR", errs[0].SeverityText)
	require.Equal(t, int32(17), errs[0].SeverityNumber)

	eventually(t, 30*time.Second, func() error {
		res := instant(t, s, fmt.Sprintf(`max_over_time(loupe_run_memory_rss_bytes{loupe_run_id=%q}[10m])`, rec.RunID))
		if len(res) != 1 {
			return fmt.Errorf("want one series, got %v", res)
		}
		for _, v := range res {
			if v < 64<<20 {
				return fmt.Errorf("peak RSS %v below the 64 MiB the child allocated", v)
			}
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		res := instant(t, s, fmt.Sprintf(`loupe_run_exit_code{loupe_run_id=%q}`, rec.RunID))
		if len(res) != 1 {
			return fmt.Errorf("want one exit code series, got %v", res)
		}
		return nil
	})
}

// TestRunNestsInstrumentedChildSpans runs a Go program using the OpenTelemetry SDK with no
// configuration of its own: the environment set by loupe run sends its span to the same
// server, under the run's span.
func TestRunNestsInstrumentedChildSpans(t *testing.T) {
	child := filepath.Join(t.TempDir(), "tracedchild")
	build := exec.Command("go", "build", "-o", child, "./testdata/tracedchild")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	s := startServer(t, t.TempDir())
	stdout, stderr, code, rec := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "nested", "--", child)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "child did its work\n", stdout)

	eventually(t, 30*time.Second, func() error {
		tr := getTrace(t, s, rec.Telemetry.TraceID)
		var run, work *apiSpan
		for i := range tr.Spans {
			switch tr.Spans[i].Name {
			case "nested":
				run = &tr.Spans[i]
			case "child-work":
				work = &tr.Spans[i]
			}
		}
		if run == nil || work == nil {
			return fmt.Errorf("want run and child spans, got %+v", tr.Spans)
		}
		if work.ParentSpanID != run.SpanID {
			return fmt.Errorf("child span parent %s, want run span %s", work.ParentSpanID, run.SpanID)
		}
		if work.Resource["loupe.run.id"] != rec.RunID {
			return fmt.Errorf("child resource lacks the run id: %v", work.Resource)
		}
		return nil
	})
}

func TestRunSpoolsWhenServerDownAndPushDelivers(t *testing.T) {
	state := t.TempDir()
	spool := filepath.Join(state, "loupe", "spool")
	_, stderr, code, rec := loupeRun(t, []string{"XDG_STATE_HOME=" + state}, "--server", "http://127.0.0.1:1",
		"--name", "offline", "--", "sh", "-c", "echo while-offline; exit 4")
	require.Equal(t, 4, code, "the job's status, not loupe's trouble")
	require.Contains(t, stderr, "loupe push")
	require.Equal(t, filepath.Join(spool, rec.RunID+".jsonl"), rec.Telemetry.SpoolFile)
	require.FileExists(t, rec.Telemetry.SpoolFile)

	s := startServer(t, t.TempDir())
	push := exec.Command(loupeBin, "push", "--spool-dir", spool, "--server", s.OTLPHTTP)
	out, err := push.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "1 run(s) pushed")
	require.NoFileExists(t, rec.Telemetry.SpoolFile)

	eventually(t, 30*time.Second, func() error {
		tr := getTrace(t, s, rec.Telemetry.TraceID)
		if len(tr.Spans) != 1 || tr.Spans[0].Status.Code != "error" && tr.Spans[0].Status.Code != "ERROR" && tr.Spans[0].Status.Code != "STATUS_CODE_ERROR" {
			return fmt.Errorf("want the failed run span, got %+v", tr.Spans)
		}
		// stream=stdout leaves out the start-of-run record, spooled too.
		if logs := findLogs(t, s, url.Values{"trace_id": {rec.Telemetry.TraceID}, "attr": {"stream=stdout"}}); len(logs) != 1 || logs[0].Body != "while-offline" {
			return fmt.Errorf("want the spooled output line, got %+v", logs)
		}
		return nil
	})
}

func TestRunBinaryExitStatusAndSignals(t *testing.T) {
	f := func(want int, args ...string) {
		t.Helper()
		_, stderr, code, _ := loupeRun(t, nil, append([]string{"--"}, args...)...)
		require.Equal(t, want, code, stderr)
	}
	f(0, "true")
	f(3, "sh", "-c", "exit 3")
	f(137, "sh", "-c", "kill -KILL $$")
	f(127, "no-such-command-for-loupe")

	// SIGTERM to loupe reaches the child, whose handler picks the exit code.
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	cmd := exec.Command(loupeBin, "run", "--output", out, "--", "sh", "-c",
		`trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "LOUPE_SERVER=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan())
	require.Equal(t, "ready", sc.Text())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.True(t, sc.Scan())
	require.Equal(t, "got-term", sc.Text())
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 42, ee.ExitCode())
}

func TestRunBinaryPassThroughIsByteExact(t *testing.T) {
	script := `head -c 1048576 /dev/zero | tr '\0' 'z'; printf '\n\000\377\376bin\r\n'; printf 'err no newline' >&2; printf tail`
	ref := exec.Command("sh", "-c", script)
	var wantOut, wantErr bytes.Buffer
	ref.Stdout, ref.Stderr = &wantOut, &wantErr
	require.NoError(t, ref.Run())
	stdout, stderr, code, _ := loupeRun(t, nil, "--", "sh", "-c", script)
	require.Equal(t, 0, code)
	require.True(t, stdout == wantOut.String(), "stdout differs (len %d vs %d)", len(stdout), wantOut.Len())
	require.Equal(t, wantErr.String(), stderr)
	require.False(t, strings.Contains(stderr, "loupe"))
}

// TestRunOutputFileThenPushRecords records a run with no server at all (--output only) and
// later sends the JSONL file to a real server.
func TestRunOutputFileThenPushRecords(t *testing.T) {
	out := filepath.Join(t.TempDir(), "offline.jsonl")
	cmd := exec.Command(loupeBin, "run", "--output", out, "--name", "laptop", "--monitor-interval", "100ms",
		"--", "sh", "-c", "sleep 0.5; echo done")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "LOUPE_SERVER=")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Equal(t, "done\n", string(b), "no server contacted, nothing to complain about")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var rec runRecord
	require.NoError(t, json.Unmarshal(data, &rec))

	s := startServer(t, t.TempDir())
	push := exec.Command(loupeBin, "push", "--server", s.OTLPHTTP, out)
	b, err = push.CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Contains(t, string(b), "1 run record(s) pushed")

	eventually(t, 30*time.Second, func() error {
		tr := getTrace(t, s, rec.Telemetry.TraceID)
		if len(tr.Spans) != 1 || tr.Spans[0].Name != "laptop" || tr.Spans[0].Attributes["loupe.run.record"] == nil {
			return fmt.Errorf("want the run span with its record, got %+v", tr.Spans)
		}
		if res := instant(t, s, fmt.Sprintf(`loupe_run_duration_seconds{loupe_run_id=%q}`, rec.RunID)); len(res) != 1 {
			return fmt.Errorf("want the duration series, got %v", res)
		}
		return nil
	})
}

// TestRunBinaryBrokenPipe: `loupe run -- yes | head -2` ends like `yes | head -2` does, with
// the child killed by SIGPIPE once the reader is gone.
func TestRunBinaryBrokenPipe(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	sh := exec.Command("bash", "-c", fmt.Sprintf(`%q run --output %q -- yes | head -2; echo "status=${PIPESTATUS[0]}"`, loupeBin, out))
	sh.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "LOUPE_SERVER=")
	b, err := sh.CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Equal(t, "y\ny\nstatus=141\n", string(b))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var rec runRecord
	require.NoError(t, json.Unmarshal(data, &rec))
	require.Equal(t, "killed", rec.Status)
	require.Equal(t, 141, rec.ExitCode)
}
