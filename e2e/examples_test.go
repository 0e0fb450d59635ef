package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildExample builds the reference app at pkg (a path under examples/) and returns the
// binary's path.
func buildExample(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, "github.com/loupe-dev/loupe/examples/"+pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestExampleDice runs the dice service against the real server, rolls with rollgen, and
// finds its telemetry: dice_rolls_total on its own /metrics and scraped by Loupe, and the
// OTLP traces, logs and HTTP metrics sent through the SDK.
func TestExampleDice(t *testing.T) {
	dice, rollgen := buildExample(t, "dice"), buildExample(t, "dice/rollgen")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf("scrape:\n  scrape_configs:\n    - job_name: dice-scrape\n      scrape_interval: 1s\n      static_configs: [{targets: ['%s']}]\n", addr))
	s := startServer(t, t.TempDir(), "--config", cfg)

	cmd := exec.Command(dice, "--listen", addr, "--server", s.OTLPHTTP)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("dice stderr:\n%s", tail(stderr.String(), 40))
		}
	})
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(stderr.String(), "msg=listening addr="+addr) {
			return fmt.Errorf("dice not listening yet")
		}
		return nil
	})

	out, err := exec.Command(rollgen, "-n", "20", "-interval", "0", "-url", "http://"+addr).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `(?m)^6: \d+$`, string(out))
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Regexp(t, `^[1-6]\n$`, string(body))

	// Its own /metrics, in the Prometheus text format.
	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := 0
	for _, m := range regexp.MustCompile(`(?m)^dice_rolls_total\{roll_value="[1-6]"\} (\d+)$`).FindAllStringSubmatch(string(metrics), -1) {
		var n int
		fmt.Sscan(m[1], &n)
		total += n
	}
	require.Equal(t, 21, total, "%s", metrics)

	// Scraped by Loupe.
	eventually(t, 30*time.Second, func() error {
		got := instant(t, s, `sum(dice_rolls_total{job="dice-scrape"})`)
		if len(got) != 1 || firstValue(got) != 21 {
			return fmt.Errorf("scraped dice_rolls_total = %v", got)
		}
		return nil
	})

	// SIGTERM: dice stops serving and flushes its telemetry.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "dice exits cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("dice did not exit within 30s of SIGTERM")
	}

	// Traces: one per roll, a server span with the roll span under it.
	var resp2 apiEnvelope[struct {
		Traces []apiTraceSummary `json:"traces"`
	}]
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/loupe/v1/traces?"+url.Values{"service": {"dice"}, "span_name": {"roll"}, "limit": {"100"}}.Encode(), 200, &resp2)
		if n := len(resp2.Data.Traces); n != 21 {
			return fmt.Errorf("want 21 traces with a roll span, got %d", n)
		}
		return nil
	})
	tr := getTrace(t, s, resp2.Data.Traces[0].TraceID)
	require.Len(t, tr.Spans, 2)
	var server, roll apiSpan
	for _, sp := range tr.Spans {
		if sp.Name == "roll" {
			roll = sp
		} else {
			server = sp
		}
	}
	require.Contains(t, []string{"GET /rolldice", "GET /"}, server.Name)
	require.Contains(t, strings.ToLower(server.Kind), "server")
	require.Equal(t, server.SpanID, roll.ParentSpanID)
	require.Equal(t, "1.0.0", roll.Resource["service.version"])
	require.Contains(t, []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, roll.Attributes["roll.value"])

	// Logs: one per roll, each in its request's trace.
	logs := findLogs(t, s, url.Values{"service": {"dice"}, "q": {"rolled the dice"}, "limit": {"100"}})
	require.Len(t, logs, 21)
	players := map[string]int{}
	for _, l := range logs {
		require.Len(t, l.TraceID, 32)
		require.Len(t, l.SpanID, 16)
		players[fmt.Sprint(l.Attributes["player"])]++
	}
	require.Equal(t, map[string]int{"alice": 7, "bob": 7, "carol": 6, "<nil>": 1}, players)

	// The HTTP server metrics of otelhttp and the runtime metrics, over OTLP.
	require.Equal(t, 21.0, firstValue(instant(t, s, `sum(http_server_request_duration_seconds_count{job="dice"})`)))
	require.NotEmpty(t, instant(t, s, `go_goroutine_count{job="dice"}`))
}

// workloadArgs is a short, deterministic run: 3 iterations of 5 items, little CPU.
var workloadArgs = []string{"--iterations", "3", "--items", "5", "--seed", "42", "--fib", "15", "--delay", "5ms"}

// TestExampleWorkload runs the workload job and checks its trace (pipeline spans, failed
// items recorded as errors), its metrics by PromQL and its logs.
func TestExampleWorkload(t *testing.T) {
	workload := buildExample(t, "workload")
	s := startServer(t, t.TempDir())
	cmd := exec.Command(workload, append(workloadArgs, "--server", s.OTLPHTTP)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), `msg="workload finished"`)

	var found apiEnvelope[struct {
		Traces []apiTraceSummary `json:"traces"`
	}]
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/loupe/v1/traces?"+url.Values{"service": {"workload"}, "errors": {"true"}}.Encode(), 200, &found)
		// One trace for the whole run: workload, iterations, and per item process, compute, wait.
		if len(found.Data.Traces) != 1 || found.Data.Traces[0].SpanCount != 1+3+5*3*3 {
			return fmt.Errorf("want one trace of 49 spans, got %+v", found.Data.Traces)
		}
		return nil
	})
	sum := found.Data.Traces[0]
	require.Equal(t, "workload", sum.RootSpanName)

	tr := getTrace(t, s, sum.TraceID)
	byID := map[string]apiSpan{}
	count := map[string]int{}
	for _, sp := range tr.Spans {
		byID[sp.SpanID] = sp
		count[sp.Name]++
	}
	require.Equal(t, map[string]int{"workload": 1, "iteration": 3, "process item": 15, "compute": 15, "wait": 15}, count)
	failed := map[string]bool{} // span ids of the failed items
	for _, sp := range tr.Spans {
		parent := byID[sp.ParentSpanID].Name
		switch sp.Name {
		case "iteration":
			require.Equal(t, "workload", parent)
		case "process item":
			require.Equal(t, "iteration", parent)
			if strings.EqualFold(strings.TrimPrefix(sp.Status.Code, "STATUS_CODE_"), "error") {
				failed[sp.SpanID] = true
				require.Contains(t, sp.Status.Message, "checksum mismatch")
				require.Len(t, sp.Events, 1)
				require.Equal(t, "exception", sp.Events[0].Name)
				require.Contains(t, sp.Events[0].Attributes["exception.message"], "checksum mismatch")
			}
		case "compute", "wait":
			require.Equal(t, "process item", parent)
		}
	}
	require.NotEmpty(t, failed, "seed 42 fails some items")
	require.Equal(t, len(failed), sum.ErrorCount)

	// Metrics, translated as Prometheus does: {request} is dropped and _total added,
	// seconds become _seconds.
	nFailed := float64(len(failed))
	for q, want := range map[string]float64{
		`sum(workload_requests_total{job="workload"})`:                                15,
		`sum(workload_requests_total{job="workload",status="error",stage="process"})`: nFailed,
		`sum(workload_requests_total{job="workload",status="ok"})`:                    15 - nFailed,
		`sum(workload_item_duration_seconds_count{job="workload"})`:                   15,
		`up{job="workload"}`: 1,
		`count(workload_runtime_seconds{job="workload"} > 0)`:                  1,
		`count(go_memory_used_bytes{job="workload"})`:                          2,
		`sum(workload_item_duration_seconds_bucket{job="workload",le="+Inf"})`: 15,
	} {
		got := instant(t, s, q)
		require.Len(t, got, 1, q)
		require.Equal(t, want, firstValue(got), q)
	}

	// Logs: one error per failed item, in that item's span, with service name and version.
	errs := findLogs(t, s, url.Values{"service": {"workload"}, "severity": {"error"}, "limit": {"100"}})
	require.Len(t, errs, len(failed))
	for _, l := range errs {
		require.Equal(t, "item failed", l.Body)
		require.Equal(t, sum.TraceID, l.TraceID)
		require.True(t, failed[l.SpanID], "log in a failed item's span")
		require.Equal(t, "1.0.0", l.Resource["service.version"])
		require.Equal(t, "workload", l.Attributes["service"])
	}
	require.Len(t, findLogs(t, s, url.Values{"service": {"workload"}, "q": {"iteration done"}}), 3)
}

// TestWorkloadUnderLoupeRun wraps the workload in `loupe run`: the SDK reads TRACEPARENT,
// so the job's root span is a child of the run's span, in the run's trace, and carries the
// run id that OTEL_RESOURCE_ATTRIBUTES passed on.
func TestWorkloadUnderLoupeRun(t *testing.T) {
	workload := buildExample(t, "workload")
	s := startServer(t, t.TempDir())
	_, stderr, code, rec := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "workload-run", "--capture-timeout", "2s",
		"--", workload, "--iterations", "1", "--items", "2", "--fib", "10", "--delay", "1ms", "--error-rate", "0")
	require.Equal(t, 0, code, stderr)

	eventually(t, 30*time.Second, func() error {
		tr := getTrace(t, s, rec.Telemetry.TraceID)
		var run, job *apiSpan
		for i := range tr.Spans {
			switch tr.Spans[i].Name {
			case "workload-run":
				run = &tr.Spans[i]
			case "workload":
				job = &tr.Spans[i]
			}
		}
		if run == nil || job == nil {
			return fmt.Errorf("want the run span and the workload span in trace %s, got %d spans", rec.Telemetry.TraceID, len(tr.Spans))
		}
		if run.SpanID != rec.Telemetry.SpanID || job.ParentSpanID != run.SpanID {
			return fmt.Errorf("workload span's parent %s, want the run span %s", job.ParentSpanID, run.SpanID)
		}
		if job.Service != "workload" || job.Resource["loupe.run.id"] != rec.RunID {
			return fmt.Errorf("workload span: service %q, resource %v", job.Service, job.Resource)
		}
		if len(tr.Spans) != 1+1+1+2*3 {
			return fmt.Errorf("want run, workload, iteration and 2 items of 3 spans, got %d spans", len(tr.Spans))
		}
		return nil
	})
	// The job's logs are in the run's trace too, beside loupe run's own output lines.
	logs := findLogs(t, s, url.Values{"trace_id": {rec.Telemetry.TraceID}, "service": {"workload"}, "q": {"workload finished"}})
	require.Len(t, logs, 1)
}
