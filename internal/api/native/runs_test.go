package native

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// The runs of the examples in docs/api-native.md: two runs of a training job on one node,
// the second slower after a numpy upgrade and failing, and an evaluation still running.
const (
	docRunA    = "5f0c6e2b9a7d4c1e8b3a2f1d0e9c8b7a"
	docRunB    = "8d2e4f6a1b3c5d7e9f0a2b4c6d8e0f1a"
	docRunEval = "c4a1e7d29b8f4e6a0c3d5b7f9e1a2c4d"
)

// docRuns are the records of the example runs.
func docRuns() []*jobs.Record {
	base := func(id, status string, start time.Time) *jobs.Record {
		return &jobs.Record{
			RecordVersion: 1, RunID: id, Name: "train", Tags: map[string]string{"lr": "0.1"},
			Command: []string{"python", "train.py"}, CommandLine: "python train.py", Cwd: "/home/alice/model",
			User: "alice", StartTime: start, Timezone: "UTC", TZOffset: "+00:00", Status: status,
			Host: jobs.Host{Hostname: "node17", OS: "linux", Arch: "amd64", CPULogical: 32},
			Scheduler: &jobs.Scheduler{Type: "slurm", JobID: "4242",
				Vars: map[string]string{"SLURM_JOB_ID": "4242", "SLURM_CPUS_PER_TASK": "8"}},
			Git: &jobs.Git{Root: "/home/alice/model", Commit: "3f2a9c1", Branch: "main"},
			Python: &jobs.Python{Version: "3.11.9", Executable: "/opt/venv/bin/python", EnvType: "virtualenv",
				Packages: []jobs.Package{{Name: "numpy", Version: "1.26.4"}, {Name: "torch", Version: "2.3.1"}}},
			Telemetry: jobs.Telemetry{TraceID: id, SpanID: "00f067aa0ba902b7"},
		}
	}
	a := base(docRunA, "succeeded", time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	a.EndTime, a.DurationSeconds, a.PID = a.StartTime.Add(600*time.Second), 600, 31337
	a.Resources = jobs.Resources{UserCPUSeconds: 4520.5, SystemCPUSeconds: 31.25, MaxRSSBytes: 6 << 30,
		PeakRSSBytes: 7 << 30, CPUPercentMean: 750.5, CPUPercentMax: 799, MaxThreads: 42, MaxProcesses: 3}

	b := base(docRunB, "failed", time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	b.EndTime, b.DurationSeconds, b.PID, b.ExitCode = b.StartTime.Add(1500*time.Second), 1500, 4711, 1
	b.Scheduler.JobID, b.Scheduler.Vars["SLURM_JOB_ID"] = "4317", "4317"
	b.Git.Commit = "9b41e07"
	b.Python.Packages = []jobs.Package{{Name: "NumPy", Version: "2.0.1"}, {Name: "torch", Version: "2.3.1"},
		{Name: "scipy", Version: "1.13.0"}}
	b.Resources = jobs.Resources{UserCPUSeconds: 9050.1, SystemCPUSeconds: 40.75, MaxRSSBytes: 6 << 30,
		PeakRSSBytes: 12 << 30, CPUPercentMean: 603.25, CPUPercentMax: 800, MaxThreads: 42, MaxProcesses: 3}

	eval := base(docRunEval, "running", time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC))
	eval.Name, eval.Tags = "eval", nil
	eval.Command, eval.CommandLine = []string{"python", "eval.py"}, "python eval.py"
	eval.Git, eval.Python = nil, nil
	return []*jobs.Record{a, b, eval}
}

// upsertDocRuns stores docRuns in w.
func upsertDocRuns(t *testing.T, w runs.Writer) {
	t.Helper()
	var rs []runs.Run
	for _, rec := range docRuns() {
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		r, err := runs.ParseRecord(b)
		require.NoError(t, err)
		rs = append(rs, r)
	}
	require.NoError(t, w.UpsertRuns(context.Background(), rs))
}

// newRunsAPI returns an API over a real DuckDB store holding docRuns.
func newRunsAPI(t *testing.T) (*API, *duck.Store) {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "runs.duckdb"), duck.DefaultOptions(),
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	upsertDocRuns(t, st)
	a := New(st, st, slog.New(slog.DiscardHandler)).WithRuns(st)
	a.now = func() time.Time { return testNow }
	return a, st
}

var nextCursorJSON = regexp.MustCompile(`"next_cursor":"[^"]+"`)

type runsPage struct {
	Runs       []map[string]any `json:"runs"`
	NextCursor string           `json:"next_cursor"`
}

func listRunIDs(t *testing.T, a *API, query string) []string {
	t.Helper()
	var page runsPage
	require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs?"+query, http.StatusOK).Data, &page))
	ids := []string{}
	for _, r := range page.Runs {
		ids = append(ids, r["run_id"].(string))
	}
	return ids
}

func TestRunsList(t *testing.T) {
	a, _ := newRunsAPI(t)
	f := func(query string, want ...string) {
		t.Helper()
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, listRunIDs(t, a, query), "query %s", query)
	}
	f("", docRunEval, docRunB, docRunA)
	f("name=train", docRunB, docRunA)
	f("status=running", docRunEval)
	f("status=failed&name=train", docRunB)
	f("host=node17", docRunEval, docRunB, docRunA)
	f("host=node1")
	f("tag=lr%3D0.1", docRunB, docRunA)
	f("tag=lr%3D0.1&tag=lr%3D0.1", docRunB, docRunA)
	f("tag=lr%3D0.2")
	f("tag=lr%3D", []string{}...)
	f("start=2026-11-22T00:00:00Z", docRunEval, docRunB)
	f("end=2026-11-22T09:00:00Z", docRunA)
	f("start=now-1h", docRunEval)
	// The default range is seven days back from end.
	f("end=2026-11-28T09:00:01Z", docRunEval, docRunB)
	f("name=&status=", docRunEval, docRunB, docRunA)
}

func TestRunsSummaryFields(t *testing.T) {
	a, _ := newRunsAPI(t)
	resp := get(t, a, "/api/loupe/v1/runs?name=train&limit=1", http.StatusOK)
	require.JSONEq(t, `{"runs":[{"run_id":"`+docRunB+`","name":"train","status":"failed",
		"start_time":"2026-11-22T09:00:00Z","end_time":"2026-11-22T09:25:00Z","duration_seconds":1500,
		"host":"node17","user":"alice","command_line":"python train.py","exit_code":1,"signal":"",
		"tags":{"lr":"0.1"},"peak_rss_bytes":12884901888,"max_rss_bytes":6442450944,
		"user_cpu_seconds":9050.1,"system_cpu_seconds":40.75,"trace_id":"`+docRunB+`"}],
		"next_cursor":"<cursor>"}`,
		nextCursorJSON.ReplaceAllString(string(resp.Data), `"next_cursor":"<cursor>"`))

	// A running run has no end time and no duration, and an empty tag set is an object.
	var page runsPage
	require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs?status=running", http.StatusOK).Data, &page))
	require.Len(t, page.Runs, 1)
	require.NotContains(t, page.Runs[0], "end_time")
	require.NotContains(t, page.Runs[0], "duration_seconds")
	require.Equal(t, map[string]any{}, page.Runs[0]["tags"])
	require.Empty(t, page.NextCursor)
}

func TestRunsPaging(t *testing.T) {
	a, st := newRunsAPI(t)
	var rs []runs.Run
	for i := range 23 {
		rec := docRuns()[0]
		rec.RunID = fmt.Sprintf("%032x", i+1)
		rec.StartTime = testNow.Add(-time.Duration(i/3) * time.Hour) // three runs per start time
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		r, err := runs.ParseRecord(b)
		require.NoError(t, err)
		rs = append(rs, r)
	}
	require.NoError(t, st.UpsertRuns(context.Background(), rs))
	all := listRunIDs(t, a, "name=train&start=now-1d&end=now%2B1s&limit=1000")
	require.Len(t, all, 24) // and docRunB

	var paged []string
	query := url.Values{"name": {"train"}, "start": {"now-1d"}, "end": {"now+1s"}, "limit": {"5"}}
	for pages := 1; ; pages++ {
		var page runsPage
		require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs?"+query.Encode(), http.StatusOK).Data, &page))
		for _, r := range page.Runs {
			paged = append(paged, r["run_id"].(string))
		}
		if page.NextCursor == "" {
			require.Equal(t, 5, pages)
			break
		}
		require.Len(t, page.Runs, 5)
		query.Set("cursor", page.NextCursor)
	}
	require.Equal(t, all, paged)
}

func TestRunsBadParams(t *testing.T) {
	a, _ := newRunsAPI(t)
	f := func(target string, code int, wantErr string) {
		t.Helper()
		resp := get(t, a, target, code)
		require.Contains(t, resp.Error, wantErr, target)
	}
	f("/api/loupe/v1/runs?statsu=failed", 400, `unknown parameter "statsu"`)
	f("/api/loupe/v1/runs?status=done", 400, `parameter "status": "done" is not running, lost, succeeded, failed or killed`)
	f("/api/loupe/v1/runs?tag=lr", 400, `parameter "tag": "lr" is not key=value`)
	f("/api/loupe/v1/runs?tag=%3D1", 400, `parameter "tag": "=1" is not key=value`)
	f("/api/loupe/v1/runs?tag=lr%3D1&tag=lr%3D2", 400, `key "lr" given twice with different values`)
	f("/api/loupe/v1/runs?limit=1001", 400, `parameter "limit": 1001 is out of range, want 1 to 1000`)
	f("/api/loupe/v1/runs?limit=0", 400, `parameter "limit"`)
	f("/api/loupe/v1/runs?cursor=abc", 400, `parameter "cursor"`)
	f("/api/loupe/v1/runs?start=yesterday", 400, `parameter "start"`)
	f("/api/loupe/v1/runs?start=now&end=now-1h", 400, `parameter "end"`)
	f("/api/loupe/v1/runs?name=a&name=b", 400, `parameter "name": given 2 times`)
	f("/api/loupe/v1/runs/names?name=x", 400, `unknown parameter "name"`)
	f("/api/loupe/v1/runs/"+docRunA+"?format=x", 400, `unknown parameter "format"`)
	f("/api/loupe/v1/runs/xyz", 400, `run id in path: run_id "xyz" is not 32 hex digits`)
	f("/api/loupe/v1/runs/"+docRunA[:31]+"0", 404, "run "+docRunA[:31]+"0 not found")
	f("/api/loupe/v1/runs/compare?a="+docRunA, 400, `parameter "b": missing`)
	f("/api/loupe/v1/runs/compare?b="+docRunA, 400, `parameter "a": missing`)
	f("/api/loupe/v1/runs/compare?a="+docRunA+"&b=nope", 400, `parameter "b": run_id "nope" is not 32 hex digits`)
	f("/api/loupe/v1/runs/compare?a="+docRunA+"&b="+docRunA[:31]+"0", 404, "run "+docRunA[:31]+"0 not found")
	f("/api/loupe/v1/runs/compare?a="+docRunA[:31]+"0&b="+docRunB, 404, "run "+docRunA[:31]+"0 not found")
	f("/api/loupe/v1/runs/compare?a="+docRunA+"&b="+docRunB+"&c=1", 400, `unknown parameter "c"`)

	resp := do(t, a, httptest.NewRequest(http.MethodPost, "/api/loupe/v1/runs", nil), http.StatusMethodNotAllowed)
	require.Equal(t, "method_not_allowed", resp.ErrorType)
}

func TestRunsWithoutStore(t *testing.T) {
	a := newTestAPI(&fakeStore{}, nil)
	for _, p := range []string{"runs", "runs/names", "runs/compare?a=1&b=2", "runs/" + docRunA} {
		resp := get(t, a, "/api/loupe/v1/"+p, http.StatusServiceUnavailable)
		require.Equal(t, "unavailable", resp.ErrorType)
		require.Contains(t, resp.Error, "no run store")
	}
}

func TestRunGet(t *testing.T) {
	a, st := newRunsAPI(t)
	want, err := st.GetRun(context.Background(), docRunA)
	require.NoError(t, err)
	resp := get(t, a, "/api/loupe/v1/runs/"+docRunA, http.StatusOK)
	var data struct {
		Run json.RawMessage `json:"run"`
	}
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.JSONEq(t, string(want), string(data.Run))
	// Upper-case ids find the run too.
	get(t, a, "/api/loupe/v1/runs/"+"5F0C6E2B9A7D4C1E8B3A2F1D0E9C8B7A", http.StatusOK)
}

func TestRunNames(t *testing.T) {
	a, _ := newRunsAPI(t)
	resp := get(t, a, "/api/loupe/v1/runs/names", http.StatusOK)
	require.JSONEq(t, `{"names":[
		{"name":"eval","runs":1,"last_start":"2026-11-22T11:30:00Z"},
		{"name":"train","runs":2,"last_start":"2026-11-22T09:00:00Z"}]}`, string(resp.Data))
	resp = get(t, a, "/api/loupe/v1/runs/names?start=now-1h", http.StatusOK)
	require.JSONEq(t, `{"names":[{"name":"eval","runs":1,"last_start":"2026-11-22T11:30:00Z"}]}`, string(resp.Data))
	resp = get(t, a, "/api/loupe/v1/runs/names?start=now&end=now%2B1h", http.StatusOK)
	require.JSONEq(t, `{"names":[]}`, string(resp.Data))
}

func TestRunsCompare(t *testing.T) {
	a, _ := newRunsAPI(t)
	resp := get(t, a, "/api/loupe/v1/runs/compare?a="+docRunA+"&b="+docRunB, http.StatusOK)
	var data struct {
		A, B runSummaryJSON
		jobs.Comparison
	}
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Equal(t, docRunA, data.A.RunID)
	require.Equal(t, docRunB, data.B.RunID)
	recs := docRuns()
	want := jobs.Compare(recs[0], recs[1])
	require.Equal(t, want, data.Comparison)
	require.Equal(t, []jobs.PackageChange{
		{Manager: "pip", Name: "NumPy", A: "1.26.4", B: "2.0.1", Change: "changed"},
		{Manager: "pip", Name: "scipy", A: "", B: "1.13.0", Change: "added"},
	}, data.Packages)
	require.Equal(t, 1, data.UnchangedPackages)
	require.Equal(t, 2.5, *data.Resources[0].Ratio)

	// A run compared with itself differs in nothing; a running run compares too.
	resp = get(t, a, "/api/loupe/v1/runs/compare?a="+docRunA+"&b="+docRunA, http.StatusOK)
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Empty(t, data.Changes)
	get(t, a, "/api/loupe/v1/runs/compare?a="+docRunEval+"&b="+docRunB, http.StatusOK)
}
