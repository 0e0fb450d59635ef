package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// apiRun is a RunSummary of GET /api/loupe/v1/runs.
type apiRun struct {
	RunID           string            `json:"run_id"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	StartTime       string            `json:"start_time"`
	EndTime         string            `json:"end_time"`
	DurationSeconds *float64          `json:"duration_seconds"`
	Host            string            `json:"host"`
	User            string            `json:"user"`
	CommandLine     string            `json:"command_line"`
	ExitCode        int               `json:"exit_code"`
	Tags            map[string]string `json:"tags"`
	TraceID         string            `json:"trace_id"`
}

func listRuns(t *testing.T, s *server, params url.Values) []apiRun {
	t.Helper()
	var resp apiEnvelope[struct {
		Runs       []apiRun `json:"runs"`
		NextCursor string   `json:"next_cursor"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs?"+params.Encode(), 200, &resp)
	return resp.Data.Runs
}

// runNamed waits until the server lists exactly one run named name with the given status.
func runNamed(t *testing.T, s *server, name, status string, timeout time.Duration) apiRun {
	t.Helper()
	var got apiRun
	eventually(t, timeout, func() error {
		rs := listRuns(t, s, url.Values{"name": {name}})
		if len(rs) != 1 || rs[0].Status != status {
			return fmt.Errorf("want one %s run named %s, got %+v", status, name, rs)
		}
		got = rs[0]
		return nil
	})
	return got
}

func TestRunsAPI(t *testing.T) {
	s := startServer(t, t.TempDir())

	// A long run is listed as running while it runs, from the record sent at its start.
	out := filepath.Join(t.TempDir(), "sleep.jsonl")
	long := exec.Command(loupeBin, "run", "--server", s.OTLPHTTP, "--output", out, "--name", "e2e-sleep", "--", "sleep", "5")
	long.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	var longErr bytes.Buffer
	long.Stderr = &longErr
	require.NoError(t, long.Start())
	done := make(chan error, 1)
	go func() { done <- long.Wait() }()
	running := runNamed(t, s, "e2e-sleep", "running", 4*time.Second)
	require.Equal(t, "sleep 5", running.CommandLine)
	require.Nil(t, running.DurationSeconds, "no duration while running")
	require.Empty(t, running.EndTime)
	select {
	case err := <-done:
		t.Fatalf("the run ended (%v) before the check; stderr: %s", err, longErr.String())
	default:
	}
	require.NoError(t, <-done, longErr.String())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var sleepRec runRecord
	require.NoError(t, json.Unmarshal(b, &sleepRec))
	require.Equal(t, sleepRec.RunID, running.RunID)
	ended := runNamed(t, s, "e2e-sleep", "succeeded", 30*time.Second)
	require.Equal(t, sleepRec.RunID, ended.RunID)
	require.NotNil(t, ended.DurationSeconds)
	require.GreaterOrEqual(t, *ended.DurationSeconds, 5.0)
	require.NotEmpty(t, ended.EndTime)

	// One run that succeeds and one that fails with exit 3.
	_, stderr, code, ok := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "e2e-ok", "--tag", "stage=e2e", "--", "sh", "-c", "echo fine")
	require.Equal(t, 0, code, stderr)
	_, stderr, code, bad := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "e2e-bad", "--tag", "stage=e2e", "--", "sh", "-c", "exit 3")
	require.Equal(t, 3, code, stderr)

	okRun := runNamed(t, s, "e2e-ok", "succeeded", 30*time.Second)
	require.Equal(t, ok.RunID, okRun.RunID)
	badRun := runNamed(t, s, "e2e-bad", "failed", 30*time.Second)
	require.Equal(t, bad.RunID, badRun.RunID)
	require.Equal(t, 3, badRun.ExitCode)
	require.Equal(t, bad.Telemetry.TraceID, badRun.TraceID)
	require.Equal(t, map[string]string{"stage": "e2e"}, badRun.Tags)
	require.Equal(t, `sh -c 'exit 3'`, badRun.CommandLine)
	require.NotEmpty(t, badRun.Host)
	require.NotEmpty(t, badRun.User)

	// Filters: tags, status; newest start first.
	var ids []string
	for _, r := range listRuns(t, s, url.Values{"tag": {"stage=e2e"}}) {
		ids = append(ids, r.RunID)
	}
	require.Equal(t, []string{bad.RunID, ok.RunID}, ids)
	failed := listRuns(t, s, url.Values{"status": {"failed"}})
	require.Len(t, failed, 1)
	require.Equal(t, bad.RunID, failed[0].RunID)

	// One run's whole record.
	var one apiEnvelope[struct {
		Run struct {
			RunID    string   `json:"run_id"`
			Status   string   `json:"status"`
			Command  []string `json:"command"`
			ExitCode int      `json:"exit_code"`
			Host     struct {
				Hostname string `json:"hostname"`
			} `json:"host"`
		} `json:"run"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+bad.RunID, 200, &one)
	require.Equal(t, bad.RunID, one.Data.Run.RunID)
	require.Equal(t, "failed", one.Data.Run.Status)
	require.Equal(t, []string{"sh", "-c", "exit 3"}, one.Data.Run.Command)
	require.Equal(t, 3, one.Data.Run.ExitCode)
	require.Equal(t, badRun.Host, one.Data.Run.Host.Hostname)
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+strings.Repeat("0", 32), 404, nil)

	var names apiEnvelope[struct {
		Names []struct {
			Name string `json:"name"`
			Runs int    `json:"runs"`
		} `json:"names"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/names", 200, &names)
	var gotNames []string
	for _, n := range names.Data.Names {
		gotNames = append(gotNames, fmt.Sprintf("%s:%d", n.Name, n.Runs))
	}
	require.Equal(t, []string{"e2e-bad:1", "e2e-ok:1", "e2e-sleep:1"}, gotNames)
}

// Two records written by hand, as `loupe run --output` would on a machine without a server,
// pushed with `loupe push FILE`, then compared.
func TestRunsAPICompareOfPushedRecords(t *testing.T) {
	s := startServer(t, t.TempDir())
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	const (
		idA = "0123456789abcdef0123456789abcdef"
		idB = "fedcba9876543210fedcba9876543210"
	)
	record := func(id string, start time.Time, duration float64, userCPU float64, python, packages string) string {
		return fmt.Sprintf(`{"record_version":1,"run_id":%q,"name":"fit","tags":{"lr":"0.1"},`+
			`"command":["python","fit.py"],"command_line":"python fit.py","cwd":"/home/bob/fit","user":"bob",`+
			`"start_time":%q,"end_time":%q,"timezone":"UTC","tz_offset":"+00:00","duration_seconds":%g,`+
			`"status":"succeeded","exit_code":0,"host":{"hostname":"node7","os":"linux","arch":"amd64"},`+
			`"python":{"version":%q,"executable":"/opt/venv/bin/python","env_type":"virtualenv","packages":[%s]},`+
			`"resources":{"user_cpu_seconds":%g,"system_cpu_seconds":0,"max_rss_bytes":1000000,"peak_rss_bytes":2000000,`+
			`"read_bytes":0,"write_bytes":0,"cpu_percent_mean":80,"cpu_percent_max":100,"max_threads":4,"max_processes":1},`+
			`"output":{"stdout_bytes":0,"stdout_lines":0,"stderr_bytes":0,"stderr_lines":0,"truncated_lines":0,"dropped_lines":0},`+
			`"telemetry":{"trace_id":%q,"span_id":"00f067aa0ba902b7"}}`,
			id, start.Format(time.RFC3339), start.Add(time.Duration(duration*float64(time.Second))).Format(time.RFC3339),
			duration, python, packages, userCPU, id)
	}
	a := record(idA, start, 100, 80, "3.12.1",
		`{"name":"numpy","version":"1.26.4"},{"name":"Pandas","version":"2.2.0"},{"name":"old_pkg","version":"0.1"}`)
	b := record(idB, start.Add(time.Hour), 250, 200, "3.12.2",
		`{"name":"numpy","version":"2.0.1"},{"name":"pandas","version":"2.2.0"},{"name":"scipy","version":"1.13.0"}`)
	file := filepath.Join(t.TempDir(), "runs.jsonl")
	require.NoError(t, writeFile(file, a+"\n"+b+"\n"))
	push := exec.Command(loupeBin, "push", "--server", s.OTLPHTTP, file)
	outb, err := push.CombinedOutput()
	require.NoError(t, err, "%s", outb)
	require.Contains(t, string(outb), "2 run record(s) pushed")

	var resp apiEnvelope[json.RawMessage]
	eventually(t, 30*time.Second, func() error {
		if n := len(listRuns(t, s, url.Values{"name": {"fit"}})); n != 2 {
			return fmt.Errorf("want 2 runs named fit, got %d", n)
		}
		return nil
	})
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/compare?a="+idA+"&b="+idB, 200, &resp)
	summary := func(id string, start time.Time, duration, userCPU float64) string {
		return fmt.Sprintf(`{"run_id":%q,"name":"fit","status":"succeeded","start_time":%q,"end_time":%q,`+
			`"duration_seconds":%g,"host":"node7","user":"bob","command_line":"python fit.py","exit_code":0,`+
			`"signal":"","tags":{"lr":"0.1"},"peak_rss_bytes":2000000,"max_rss_bytes":1000000,`+
			`"user_cpu_seconds":%g,"system_cpu_seconds":0,"trace_id":%q}`,
			id, start.Format(time.RFC3339), start.Add(time.Duration(duration*float64(time.Second))).Format(time.RFC3339),
			duration, userCPU, id)
	}
	want := `{
		"a": ` + summary(idA, start, 100, 80) + `,
		"b": ` + summary(idB, start.Add(time.Hour), 250, 200) + `,
		"resources": [
			{"key":"duration_seconds","a":100,"b":250,"delta":150,"ratio":2.5},
			{"key":"user_cpu_seconds","a":80,"b":200,"delta":120,"ratio":2.5},
			{"key":"system_cpu_seconds","a":0,"b":0,"delta":0},
			{"key":"peak_rss_bytes","a":2000000,"b":2000000,"delta":0,"ratio":1},
			{"key":"max_rss_bytes","a":1000000,"b":1000000,"delta":0,"ratio":1},
			{"key":"read_bytes","a":0,"b":0,"delta":0},
			{"key":"write_bytes","a":0,"b":0,"delta":0},
			{"key":"cpu_percent_mean","a":80,"b":80,"delta":0,"ratio":1},
			{"key":"cpu_percent_max","a":100,"b":100,"delta":0,"ratio":1},
			{"key":"max_threads","a":4,"b":4,"delta":0,"ratio":1},
			{"key":"max_processes","a":1,"b":1,"delta":0,"ratio":1}
		],
		"changes": [
			{"section":"python","key":"version","a":"3.12.1","b":"3.12.2"}
		],
		"packages": [
			{"manager":"pip","name":"numpy","a":"1.26.4","b":"2.0.1","change":"changed"},
			{"manager":"pip","name":"old_pkg","a":"0.1","b":"","change":"removed"},
			{"manager":"pip","name":"scipy","a":"","b":"1.13.0","change":"added"}
		],
		"unchanged_packages": 1
	}`
	require.JSONEq(t, want, string(resp.Data))

	// Pushing the same file again (a retry) changes nothing.
	outb, err = exec.Command(loupeBin, "push", "--server", s.OTLPHTTP, file).CombinedOutput()
	require.NoError(t, err, "%s", outb)
	var again apiEnvelope[json.RawMessage]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/compare?a="+idA+"&b="+idB, 200, &again)
	require.JSONEq(t, string(resp.Data), string(again.Data))
	require.Len(t, listRuns(t, s, url.Values{"name": {"fit"}}), 2)
}

// A run from a big environment (2,000 packages, a ~90 KB record) is recorded whole: the
// record attribute has the server's log body limit, not the 16 KiB attribute value limit.
func TestRunsAPIKeepsRunOfLargeEnvironment(t *testing.T) {
	s := startServer(t, t.TempDir())
	const id = "00112233445566778899aabbccddeeff"
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var pkgs []string
	for i := range 2000 {
		pkgs = append(pkgs, fmt.Sprintf(`{"name":"conda-forge-package-%04d","version":"1.%d.0"}`, i, i))
	}
	rec := fmt.Sprintf(`{"record_version":1,"run_id":%q,"name":"big-env","command":["true"],"command_line":"true",`+
		`"start_time":%q,"end_time":%q,"duration_seconds":1,"status":"succeeded","exit_code":0,`+
		`"host":{"hostname":"n1","os":"linux","arch":"amd64"},"python":{"version":"3.12.1","executable":"/opt/conda/bin/python","packages":[%s]},`+
		`"resources":{},"output":{},"telemetry":{"trace_id":%q,"span_id":"00f067aa0ba902b7"}}`,
		id, start.Format(time.RFC3339), start.Add(time.Second).Format(time.RFC3339), strings.Join(pkgs, ","), id)
	require.Greater(t, len(rec), 64<<10)
	file := filepath.Join(t.TempDir(), "big.jsonl")
	require.NoError(t, writeFile(file, rec+"\n"))
	out, err := exec.Command(loupeBin, "push", "--server", s.OTLPHTTP, file).CombinedOutput()
	require.NoError(t, err, "%s", out)

	var got apiEnvelope[struct {
		Run struct {
			Status string `json:"status"`
			Python struct {
				Packages []json.RawMessage `json:"packages"`
			} `json:"python"`
		} `json:"run"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+id, 200, &got)
	require.Equal(t, "succeeded", got.Data.Run.Status)
	require.Len(t, got.Data.Run.Python.Packages, 2000)
}

// A run spooled days ago keeps its samples when pushed after newer metrics arrived: the
// server's out-of-order window defaults to the whole metrics retention.
func TestRunsPushOfOldRecordKeepsItsSamples(t *testing.T) {
	s := startServer(t, t.TempDir())
	// Something recent first, so the old samples are out of order.
	stdout, stderr, code, _ := loupeRun(t, []string{"LOUPE_SERVER=" + s.OTLPHTTP}, "--server", s.OTLPHTTP, "--name", "recent", "--", "sh", "-c", "sleep 1.5")
	require.Equal(t, 0, code, "%s %s", stdout, stderr)
	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `count(loupe_run_memory_rss_bytes{job="recent"})`); len(got) == 0 {
			return fmt.Errorf("no recent samples yet")
		}
		return nil
	})

	const id = "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a"
	start := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
	var samples []string
	for i := range 40 {
		samples = append(samples, fmt.Sprintf(`{"t":%d,"cpu_percent":100,"rss_bytes":%d,"read_bytes":0,"write_bytes":0,"threads":1,"processes":1,"max_hwm_bytes":%d}`,
			i*60, (i+1)<<20, (i+1)<<20))
	}
	rec := fmt.Sprintf(`{"record_version":1,"run_id":%q,"name":"old-run","command":["true"],"command_line":"true",`+
		`"start_time":%q,"end_time":%q,"duration_seconds":2400,"status":"succeeded","exit_code":0,`+
		`"host":{"hostname":"n1","os":"linux","arch":"amd64"},"resources":{},"output":{},"samples":[%s],`+
		`"telemetry":{"trace_id":%q,"span_id":"00f067aa0ba902b7"}}`,
		id, start.Format(time.RFC3339), start.Add(40*time.Minute).Format(time.RFC3339), strings.Join(samples, ","), id)
	file := filepath.Join(t.TempDir(), "old.jsonl")
	require.NoError(t, writeFile(file, rec+"\n"))
	out, err := exec.Command(loupeBin, "push", "--server", s.OTLPHTTP, file).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "warning", "nothing rejected: %s", out)

	at := start.Add(50 * time.Minute).Unix()
	got := instant(t, s, fmt.Sprintf(`count_over_time(loupe_run_memory_rss_bytes{job="old-run"}[1h] @ %d)`, at))
	require.Len(t, got, 1, "%v", got)
	for _, v := range got {
		require.Equal(t, 40.0, v, "every sample of the old run is stored")
	}
}
