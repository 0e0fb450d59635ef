//go:build chdb

package e2e

import (
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loupeMigrate runs the chdb-tagged `loupe migrate` with args and returns its output and
// exit code.
func loupeMigrate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(loupeChDB(t), append([]string{"migrate"}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("loupe migrate: %v\n%s", err, out)
	}
	return string(out), 0
}

// The "Moving up" path of docs/scale-out.md: a server started on the embedded backend
// receives data from the OpenTelemetry SDK; it is stopped, `loupe migrate` copies its data
// directory into ClickHouse (chDB), and the server started on storage.backend: clickhouse
// answers the same queries as the ClickHouse backend's own end-to-end test.
func TestMigrateIntoChDB(t *testing.T) {
	loupeChDB(t) // built before the test's clock starts
	ctx := testContext(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	config := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(config, scaleOutExample(t, "chdb://"+filepath.Join(dir, "clickhouse"))))

	s := startServer(t, dataDir)
	sent := sendCheckoutTrace(t, ctx, s, viaGRPC, viaHTTP)
	sendMetrics(t, ctx, s, viaHTTP)
	checkCheckoutTrace(t, s, sent) // stored before the server stops
	status, a := dashCall(t, s, "POST", "", `{"dashboard": {"uid": "svc", "title": "Service", "panels": []}}`)
	require.Equal(t, 200, status, a)
	status, a = dashCall(t, s, "PUT", "/svc", `{"version": 1, "dashboard": {"title": "Service v2", "panels": []}}`)
	require.Equal(t, 200, status, a)
	// A Go CPU profile (samples/count and cpu/nanoseconds, whose samples DuckDB stores once).
	pushed := time.Now()
	pqPush(t, s, "checkout{version=1.5}", pqSynthetic(t, "cpu/nanoseconds", []string{"samples/count", "cpu/nanoseconds"},
		map[string][]int64{"main.work": {300, 3e9}, "main.idle": {100, 1e9}}))
	const cpuID = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	flame := flamegraph(t, s, cpuID, `{service_name="checkout"}`, pushed)
	require.EqualValues(t, 4e9, flame.Total)
	require.EqualValues(t, 3e9, flame.totalOf("main.work"))
	s.stop()

	out, code := loupeMigrate(t, "--config", config, "--data-dir", dataDir)
	require.Zero(t, code, out)
	t.Logf("loupe migrate:\n%s", out)
	require.Contains(t, out, "logs: 2 copied in ")
	require.Contains(t, out, "spans: 2 copied (1 traces) in ")
	require.Regexp(t, `metrics: [1-9]\d* samples copied \(\d+ series\) in `, out)
	require.Contains(t, out, "runs: 0 copied in ")
	require.Contains(t, out, `dashboards: dashboard "svc" ("Service v2") copied (2 versions)`)
	require.Contains(t, out, "errors: 0 events copied (0 issues) in ")
	require.Contains(t, out, "profiles: 2 copied (4 samples) in ")
	require.NotContains(t, out, "not copied")

	s = startClickHouseServer(t, dataDir, config)
	checkClickHouseServer(t, s, sent)
	status, a = dashCall(t, s, "GET", "/svc", "")
	require.Equal(t, 200, status, a)
	d := a["data"].(map[string]any)
	require.Equal(t, "Service v2", d["dashboard"].(map[string]any)["title"])
	require.EqualValues(t, 2, d["meta"].(map[string]any)["version"], "its two versions replayed")
	// The profile: the same flame graph, and both types of the pprof.
	moved := flamegraph(t, s, cpuID, `{service_name="checkout"}`, pushed)
	require.Equal(t, flame, moved)
	count := flamegraph(t, s, "process_cpu:samples:count:cpu:nanoseconds", `{service_name="checkout",version="1.5"}`, pushed)
	require.EqualValues(t, 400, count.Total)
	require.EqualValues(t, 300, count.totalOf("main.work"))
	s.stop()

	// Again: refused, as ClickHouse holds logs now; nothing is copied.
	out, code = loupeMigrate(t, "--config", config, "--data-dir", dataDir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "loupe: migrate logs: checking the destination: the destination already holds logs: nothing copied (--force copies anyway")

	// A job run and an exception (an error issue of two events: a span event and a log
	// record) on the embedded server, then --force: the run and the issue are copied (runs,
	// error events and metric samples are kept once per id, per series and time), logs and
	// spans (and profiles) are stored twice.
	s = startServer(t, dataDir)
	_, stderr, code, _ := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "e2e-migrate", "--", "sh", "-c", "exit 3")
	require.Equal(t, 3, code, stderr)
	before := runNamed(t, s, "e2e-migrate", "failed", 30*time.Second)
	tp := newTracerProvider(t, ctx, s, viaGRPC, "payments")
	lp := newLoggerProvider(t, ctx, s, viaHTTP, "payments")
	chargeCard(ctx, tp.Tracer("e2e"), lp.Logger("e2e"), errors.New("card declined"))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	issues := getIssues(t, s)
	require.Len(t, issues, 1, "%+v", issues)
	require.EqualValues(t, 2, issues[0].Events)
	s.stop()
	out, code = loupeMigrate(t, "--to-dsn", "chdb://"+filepath.Join(dir, "clickhouse"), "--database", "loupe", "--data-dir", dataDir, "--force")
	require.Zero(t, code, out)
	require.Contains(t, out, "runs: 1 copied in ")
	require.Contains(t, out, "errors: 2 events copied (1 issues) in ")

	s = startClickHouseServer(t, dataDir, config)
	after := runNamed(t, s, "e2e-migrate", "failed", 30*time.Second)
	require.Equal(t, before, after)
	movedIssues := getIssues(t, s)
	require.Len(t, movedIssues, 1, "%+v", movedIssues)
	require.Equal(t, issues[0].ID, movedIssues[0].ID)
	require.Equal(t, issues[0].Title, movedIssues[0].Title)
	require.Equal(t, "*errors.errorString", movedIssues[0].Type)
	require.EqualValues(t, 2, movedIssues[0].Events)
	require.Len(t, getIssueEvents(t, s, movedIssues[0].ID), 2)
	require.EqualValues(t, 8e9, flamegraph(t, s, cpuID, `{service_name="checkout"}`, pushed).Total, "profiles copied twice are stored twice")
	require.Equal(t, map[string]float64{"map[]": 60}, instant(t, s, `sum(http_server_requests_total)`), "samples copied twice are kept once")
	var vector struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/loki/api/v1/query?"+url.Values{"query": {`sum by (service_name) (count_over_time({deployment_environment="e2e"}[5m]))`}}.Encode(), 200, &vector)
	counts := map[string]any{}
	for _, r := range vector.Data.Result {
		counts[r.Metric["service_name"]] = r.Value[1]
	}
	// The checkout's two records twice, and the exception's log record once.
	require.Equal(t, map[string]any{"frontend": "2", "payments": "3"}, counts, "logs copied twice are stored twice")
	require.Regexp(t, `done: \d+ items in `, out)
}
