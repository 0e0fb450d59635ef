package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rpFlame is the part of the native flame graph answer this test reads.
type rpFlame struct {
	Total int64 `json:"total"`
	Top   []struct {
		Function string `json:"function"`
		Self     int64  `json:"self"`
		Total    int64  `json:"total"`
	} `json:"top"`
}

func (g rpFlame) total(fn string) int64 {
	for _, r := range g.Top {
		if r.Function == fn {
			return r.Total
		}
	}
	return 0
}

// TestRunProfileSDKChild runs a Go program that uses Loupe's SDK with no profiling setting
// of its own under `loupe run --profile`: the run's CPU profiles, selected by loupe_run_id,
// name the function that burned CPU inside a span and the one that burned it after; the
// flame graph filtered by the span's span_id (printed by the program) has only the first,
// and the spans of that function name the span.
func TestRunProfileSDKChild(t *testing.T) {
	child := filepath.Join(t.TempDir(), "sdkprofchild")
	out, err := exec.Command("go", "build", "-o", child, "./testdata/sdkprofchild").CombinedOutput()
	require.NoError(t, err, "%s", out)

	s := startServer(t, t.TempDir())
	started := time.Now()
	stdout, stderr, code, rec := loupeRun(t, nil, "--server", s.OTLPHTTP, "--ui-url", s.HTTP,
		"--profile", "--name", "profiled", "--", child)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "profile upload", "the SDK's uploads succeeded")
	spanID := strings.TrimSpace(stdout)
	require.Len(t, spanID, 16, "the child prints its span id: %q", stdout)

	const cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	sel := fmt.Sprintf(`{loupe_run_id=%q}`, rec.RunID)
	q := url.Values{"type": {cpu}, "query": {sel},
		"start": {fmt.Sprint(started.Add(-time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).Unix())}}
	get := func(path string, q url.Values, out any) {
		t.Helper()
		var env struct {
			Data any `json:"data"`
		}
		env.Data = out
		getJSON(t, s.HTTP+"/api/loupe/v1/profiles/"+path+"?"+q.Encode(), http.StatusOK, &env)
	}

	var g rpFlame
	eventually(t, 30*time.Second, func() error {
		get("flamegraph", q, &g)
		if g.total("main.burnInSpan") == 0 {
			return fmt.Errorf("the run's CPU profile lacks main.burnInSpan: %+v", g.Top)
		}
		return nil
	})
	// 1.5 s in the span against 0.5 s after it: the span's function is most of the CPU.
	require.Greater(t, g.total("main.burnInSpan"), g.total("main.outsideSpan"))
	require.Greater(t, g.total("main.burnInSpan"), g.Total/3, "%+v", g.Top)

	var bySpan rpFlame
	qs := url.Values{}
	for k, v := range q {
		qs[k] = v
	}
	qs.Set("span_id", spanID)
	get("flamegraph", qs, &bySpan)
	require.Equal(t, g.total("main.burnInSpan"), bySpan.total("main.burnInSpan"), "every sample of burnInSpan ran under the span")
	require.Zero(t, bySpan.total("main.outsideSpan"), "outsideSpan ran after the span ended")

	var spans struct {
		Spans []struct {
			SpanID   string `json:"span_id"`
			SpanName string `json:"span_name"`
		} `json:"spans"`
	}
	qf := url.Values{}
	for k, v := range q {
		qf[k] = v
	}
	qf.Set("function", "main.burnInSpan")
	qf.Set("limit", "5")
	get("spans", qf, &spans)
	require.Len(t, spans.Spans, 1, "%+v", spans)
	require.Equal(t, spanID, spans.Spans[0].SpanID)
	require.Equal(t, "burn-phase", spans.Spans[0].SpanName)

	// Heap and goroutine profiles of the run came too, and the run's service name.
	var types struct {
		Types []struct {
			ID string `json:"id"`
		} `json:"types"`
	}
	get("types", url.Values{"start": q["start"], "end": q["end"]}, &types)
	var ids []string
	for _, ty := range types.Types {
		ids = append(ids, ty.ID)
	}
	require.Contains(t, ids, "goroutines:goroutine:count:goroutine:count")
	require.Contains(t, strings.Join(ids, " "), "memory:inuse_space:bytes")
	var values struct {
		Values []string `json:"values"`
	}
	get("labels/service_name/values", q, &values)
	require.Equal(t, []string{"sdkprofchild"}, values.Values)

	// The curl example of docs/profiles.md's "From the SDK and loupe run" finds the same.
	doc, err := os.ReadFile("../docs/profiles.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "## From the SDK and `loupe run`")
	require.True(t, ok, "section not found")
	_, cmdText, ok := strings.Cut(section, "```sh\n")
	require.True(t, ok)
	cmdText, _, _ = strings.Cut(cmdText, "```")
	cmdText = strings.ReplaceAll(strings.ReplaceAll(cmdText, "http://localhost:7070", s.HTTP), "RUN_ID", rec.RunID)
	docOut, err := exec.Command("sh", "-c", cmdText).CombinedOutput()
	require.NoError(t, err, "%s\n%s", cmdText, docOut)
	var docGraph struct {
		Data rpFlame `json:"data"`
	}
	require.NoError(t, json.Unmarshal(docOut, &docGraph), "%s", docOut)
	require.Equal(t, g.total("main.burnInSpan"), docGraph.Data.total("main.burnInSpan"))

	// The server's record of the run says it was profiled (the run page's link uses it).
	var run struct {
		Data struct {
			Run struct {
				Telemetry struct {
					Profile bool `json:"profile"`
				} `json:"telemetry"`
			} `json:"run"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+rec.RunID, http.StatusOK, &run)
		if !run.Data.Run.Telemetry.Profile {
			return fmt.Errorf("the run record lacks telemetry.profile")
		}
		return nil
	})
}
