package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func runSh(t *testing.T, opts Options, script string) (int, *Record) {
	t.Helper()
	code, rec, err := Run(context.Background(), opts, []string{"sh", "-c", script})
	require.NoError(t, err)
	return code, rec
}

func TestRunExitCodes(t *testing.T) {
	opts := testOptions(t)
	f := func(script string, wantCode int, wantStatus, wantSignal string) {
		t.Helper()
		code, rec := runSh(t, opts, script)
		require.Equal(t, wantCode, code, script)
		require.Equal(t, wantCode, rec.ExitCode)
		require.Equal(t, wantStatus, rec.Status)
		require.Equal(t, wantSignal, rec.Signal)
	}
	f("exit 0", 0, "succeeded", "")
	f("exit 3", 3, "failed", "")
	f("kill -KILL $$", 137, "killed", "SIGKILL")
	f("kill -TERM $$", 143, "killed", "SIGTERM")

	code, rec, err := Run(context.Background(), opts, []string{"/nonexistent/loupe-test-cmd"})
	require.NoError(t, err)
	require.Equal(t, ExitNotFound, code)
	require.Equal(t, "failed", rec.Status)
	require.NotEmpty(t, rec.Error)

	dir := t.TempDir()
	noexec := filepath.Join(dir, "script")
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644))
	code, _, err = Run(context.Background(), opts, []string{noexec})
	require.NoError(t, err)
	require.Equal(t, ExitNotExecutable, code)
}

func TestRunPassesOutputThroughByteForByte(t *testing.T) {
	dir := t.TempDir()
	// 1 MiB line, binary bytes, a line ending in \r and no final newline, on both streams.
	gen := filepath.Join(dir, "gen.sh")
	require.NoError(t, os.WriteFile(gen, []byte(`#!/bin/sh
head -c 1048576 /dev/zero | tr '\0' 'y'
printf '\n\000\001\377binary\r\n'
printf 'to stderr\nno newline at end' >&2
printf 'last'
`), 0o755))
	want, err := exec.Command(gen).Output()
	require.NoError(t, err)
	var wantErr strings.Builder
	c := exec.Command(gen)
	c.Stderr = &wantErr
	require.NoError(t, c.Run())

	opts := testOptions(t)
	var stdout, stderr syncBuffer
	opts.Stdout, opts.Stderr = &stdout, &stderr
	opts.MaxLineBytes = 100
	code, rec, err := Run(context.Background(), opts, []string{gen})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, want, stdout.Bytes(), "stdout must be unchanged")
	require.Equal(t, wantErr.String(), stderr.String(), "stderr must be unchanged")
	require.Equal(t, Output{StdoutBytes: int64(len(want)), StdoutLines: 3, StderrBytes: int64(wantErr.Len()),
		StderrLines: 2, TruncatedLines: 1}, rec.Output)
}

func TestRunStdinPassesThrough(t *testing.T) {
	opts := testOptions(t)
	opts.Stdin = strings.NewReader("from stdin\n")
	var out syncBuffer
	opts.Stdout = &out
	code, _ := runSh(t, opts, "cat")
	require.Equal(t, 0, code)
	require.Equal(t, "from stdin\n", out.String())
}

// TestRunForwardsSIGTERM sends SIGTERM to this process while Run waits: Run must catch it
// and pass it to the child, whose trap decides the exit code.
func TestRunForwardsSIGTERM(t *testing.T) {
	opts := testOptions(t)
	pr, pw := io.Pipe()
	opts.Stdout = pw
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
	}()
	done := make(chan int, 1)
	go func() {
		code, _, _ := Run(context.Background(), opts, []string{"sh", "-c",
			`trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done`})
		pw.Close()
		done <- code
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("child did not start")
	}
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		require.Equal(t, 42, code)
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM was not forwarded")
	}
}

func TestRunSetsChildEnvironment(t *testing.T) {
	opts := testOptions(t)
	opts.Server = "http://127.0.0.1:1"
	opts.Name = "my job"
	opts.Environ = append(os.Environ(), "OTEL_RESOURCE_ATTRIBUTES=team=lab")
	var out syncBuffer
	opts.Stdout = &out
	_, rec := runSh(t, opts, `echo "$TRACEPARENT|$OTEL_EXPORTER_OTLP_ENDPOINT|$OTEL_RESOURCE_ATTRIBUTES|$LOUPE_RUN_ID"`)
	want := "00-" + rec.Telemetry.TraceID + "-" + rec.Telemetry.SpanID + "-01|http://127.0.0.1:1|" +
		"team=lab,loupe.run.id=" + rec.RunID + ",loupe.run.name=my%20job|" + rec.RunID + "\n"
	require.Equal(t, want, out.String())
}

func TestRunSamplesMemoryPeak(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	opts := testOptions(t)
	opts.MonitorInterval = 50 * time.Millisecond
	// Hold 150 MiB until the sampler has seen it (at least 0.5 s), then exit.
	code, rec, err := Run(context.Background(), opts, []string{"python3", "-c",
		"import time\nb = bytearray(150 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(0.5)"})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.GreaterOrEqual(t, rec.Resources.MaxRSSBytes, uint64(150<<20))
	require.GreaterOrEqual(t, rec.Resources.PeakRSSBytes, uint64(150<<20))
	require.Less(t, rec.Resources.MaxRSSBytes, uint64(400<<20))
	require.NotEmpty(t, rec.Samples)
	require.Positive(t, rec.Resources.UserCPUSeconds+rec.Resources.SystemCPUSeconds)
	require.GreaterOrEqual(t, rec.Resources.MaxProcesses, 1)
}

func TestRunWritesJSONL(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs.jsonl")
	opts := testOptions(t)
	opts.OutputPath = out
	opts.Name = "sim"
	opts.Tags = map[string]string{"lr": "0.1"}
	runSh(t, opts, "echo one")
	runSh(t, opts, "exit 5")
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		recs = append(recs, m)
	}
	require.Len(t, recs, 2)
	for _, k := range []string{"run_id", "name", "tags", "command", "command_line", "cwd", "user",
		"start_time", "end_time", "timezone", "duration_seconds", "status", "exit_code", "host",
		"resources", "output", "telemetry"} {
		require.Contains(t, recs[0], k)
	}
	require.Equal(t, "sim", recs[0]["name"])
	require.Equal(t, map[string]any{"lr": "0.1"}, recs[0]["tags"])
	require.Equal(t, "succeeded", recs[0]["status"])
	require.Equal(t, float64(5), recs[1]["exit_code"])
	require.Equal(t, "failed", recs[1]["status"])
	require.NotEqual(t, recs[0]["run_id"], recs[1]["run_id"])
}

func TestSampleSetKeepsBoundedEvenSpread(t *testing.T) {
	s := newSampleSet(10)
	for i := range 1000 {
		s.add(Sample{T: float64(i)})
	}
	require.LessOrEqual(t, len(s.samples), 10)
	require.GreaterOrEqual(t, len(s.samples), 5)
	require.Equal(t, 0.0, s.samples[0].T)
	require.Greater(t, s.samples[len(s.samples)-1].T, 500.0, "the kept samples cover the whole run")
}

func TestCommandLineQuoting(t *testing.T) {
	require.Equal(t, `python train.py --lr 0.1`, commandLine([]string{"python", "train.py", "--lr", "0.1"}))
	require.Equal(t, `sh -c 'echo "a b"; it'\''s'`, commandLine([]string{"sh", "-c", `echo "a b"; it's`}))
	require.Equal(t, `x ''`, commandLine([]string{"x", ""}))
}

func TestRunJoinsInheritedTrace(t *testing.T) {
	opts := testOptions(t)
	parentTrace, parentSpan := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	opts.Environ = append(os.Environ(), "TRACEPARENT=00-"+parentTrace+"-"+parentSpan+"-01")
	var out syncBuffer
	opts.Stdout = &out
	_, rec := runSh(t, opts, `echo "$TRACEPARENT"`)
	require.Equal(t, parentTrace, rec.Telemetry.TraceID)
	require.Equal(t, parentSpan, rec.Telemetry.ParentSpanID)
	require.NotEqual(t, parentTrace, rec.RunID, "the run id stays unique")
	require.Equal(t, "00-"+parentTrace+"-"+rec.Telemetry.SpanID+"-01\n", out.String(), "the child nests under this run")
	sp := runSpan(rec).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, parentSpan, sp.ParentSpanID().String())

	for _, bad := range []string{"", "garbage", "00-" + strings.Repeat("0", 32) + "-" + parentSpan + "-01",
		"ff-" + parentTrace + "-" + parentSpan + "-01", "00-xyz-" + parentSpan + "-01"} {
		_, _, ok := parseTraceparent(bad)
		require.False(t, ok, bad)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	opts := testOptions(t)
	opts.Server = "localhost:4318"
	_, _, err := Run(context.Background(), opts, []string{"true"})
	require.ErrorContains(t, err, "http(s) URL")
	opts = testOptions(t)
	opts.MaxLineBytes = 0
	_, _, err = Run(context.Background(), opts, []string{"true"})
	require.ErrorContains(t, err, "max line bytes")
	_, _, err = Run(context.Background(), testOptions(t), nil)
	require.ErrorContains(t, err, "no command")
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00-extra")
	f.Add("--")
	f.Fuzz(func(t *testing.T, tp string) {
		tid, sid, ok := parseTraceparent(tp)
		if !ok {
			return
		}
		var trace [16]byte
		var span [8]byte
		require.NoError(t, decodeHex(trace[:], tid))
		require.NoError(t, decodeHex(span[:], sid))
		require.NotEqual(t, [16]byte{}, trace)
		require.NotEqual(t, [8]byte{}, span)
	})
}

func TestRunWithoutOutputCapture(t *testing.T) {
	opts := testOptions(t)
	opts.CaptureOutput = false
	var out syncBuffer
	opts.Stdout = &out
	code, rec := runSh(t, opts, "echo direct")
	require.Equal(t, 0, code)
	require.Equal(t, "direct\n", out.String())
	require.Equal(t, Output{}, rec.Output, "nothing captured")
}

// TestRunDoesNotWaitForGrandchildHoldingOutput: a child that leaves a background process
// holding its stdout open ends when the child ends (plus a short grace period), as it would
// without Loupe, not when the background process ends.
func TestRunDoesNotWaitForGrandchildHoldingOutput(t *testing.T) {
	opts := testOptions(t)
	var out syncBuffer
	opts.Stdout = &out
	done := make(chan int, 1)
	go func() {
		code, _ := runSh(t, opts, "sleep 60 & echo $!")
		done <- code
	}()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(45 * time.Second):
		t.Fatal("Run waited for the background process")
	}
	pid := strings.TrimSpace(out.String())
	require.NotEmpty(t, pid)
	_ = exec.Command("kill", pid).Run()
}
