//go:build chdb

package e2e

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The ClickHouse backend end to end: the real server with storage.backend: clickhouse on
// chDB (ClickHouse in-process), which only a loupe built with -tags chdb opens (chdb:///dir
// DSN). make test runs this file: its unit phase builds the tests with -tags chdb and
// CHDB_LIB_PATH naming libchdb.so, which the server inherits.

var chdbBuild struct {
	once sync.Once
	bin  string
	err  error
}

// loupeChDB builds the chdb-tagged loupe once, beside TestMain's binary.
func loupeChDB(t *testing.T) string {
	t.Helper()
	if os.Getenv("CHDB_LIB_PATH") == "" {
		t.Fatal("CHDB_LIB_PATH must name libchdb.so (scripts/test-deps.sh installs it; make test sets it)")
	}
	chdbBuild.once.Do(func() {
		chdbBuild.bin = filepath.Join(filepath.Dir(loupeBin), "loupe-chdb")
		out, err := exec.Command("go", "build", "-tags", "chdb", "-o", chdbBuild.bin, "../cmd/loupe").CombinedOutput()
		if err != nil {
			chdbBuild.err = err
			chdbBuild.bin = string(out)
		}
	})
	require.NoError(t, chdbBuild.err, "go build -tags chdb: %s", chdbBuild.bin)
	return chdbBuild.bin
}

// scaleOutExample is the configuration of docs/scale-out.md with its DSN replaced by dsn.
func scaleOutExample(t *testing.T, dsn string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/scale-out.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```yaml\n(storage:.*?)```").FindStringSubmatch(string(doc))
	require.NotNil(t, block, "docs/scale-out.md shows the storage configuration")
	dsnLine := regexp.MustCompile(`(?m)^(\s*dsn: ).*$`)
	require.True(t, dsnLine.MatchString(block[1]))
	return dsnLine.ReplaceAllString(block[1], "${1}"+dsn)
}

// startClickHouseServer starts the chdb-tagged loupe on config. The harness starts
// loupeBin: it is swapped for the start only, which is safe as this test is not parallel
// (parallel tests run after every sequential one has ended).
func startClickHouseServer(t *testing.T, dataDir, config string) *server {
	t.Helper()
	bin := loupeChDB(t)
	saved := loupeBin
	loupeBin = bin
	defer func() { loupeBin = saved }()
	return startServer(t, dataDir, "--config", config)
}

func TestClickHouseBackendOnChDB(t *testing.T) {
	loupeChDB(t) // built before the test's clock starts
	ctx := testContext(t)
	dir := t.TempDir()
	// The configuration of docs/scale-out.md, on chDB instead of a ClickHouse server.
	config := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(config, scaleOutExample(t, "chdb://"+filepath.Join(dir, "clickhouse"))))
	dataDir := filepath.Join(dir, "data")
	s := startClickHouseServer(t, dataDir, config)
	sent := sendCheckoutTrace(t, ctx, s, viaGRPC, viaHTTP)
	sendMetrics(t, ctx, s, viaHTTP)
	checkClickHouseServer(t, s, sent)

	// What the backend cannot serve says so (docs/scale-out.md lists it).
	resp, err := http.Get(s.HTTP + "/api/v1/status/tsdb")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNotImplemented, resp.StatusCode)
	require.Contains(t, string(body), "not supported on the clickhouse backend")

	// Nothing of the data is in the data dir: no DuckDB file, no TSDB.
	for _, name := range []string{"loupe.duckdb", "metrics"} {
		_, err := os.Stat(filepath.Join(dataDir, name))
		require.ErrorIs(t, err, os.ErrNotExist, name)
	}

	// A restart on the same ClickHouse reads the same data back.
	s.stop()
	s = startClickHouseServer(t, dataDir, config)
	checkClickHouseServer(t, s, sent)

	// Then (as they add services, error logs and spans the checks above count) an
	// exception, which becomes an error issue, a failed job run and a dashboard, read back
	// before and after another restart.
	tp := newTracerProvider(t, ctx, s, viaGRPC, "payments")
	lp := newLoggerProvider(t, ctx, s, viaHTTP, "payments")
	chargeCard(ctx, tp.Tracer("e2e"), lp.Logger("e2e"), errors.New("card declined"))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	_, stderr, code, _ := loupeRun(t, nil, "--server", s.OTLPHTTP, "--name", "e2e-ch", "--", "sh", "-c", "exit 3")
	require.Equal(t, 3, code, stderr)
	status, a := dashCall(t, s, "POST", "", `{"dashboard": {"uid": "svc", "title": "Service", "panels": []}}`)
	require.Equal(t, 200, status, a)
	chAllocate(4) // allocations for the heap profile to show,
	runtime.GC()  // which it does once a collection has ended
	var heap bytes.Buffer
	require.NoError(t, pprof.Lookup("heap").WriteTo(&heap, 0))
	pqPush(t, s, "chapp", heap.Bytes())
	checkClickHouseIssuesRunsDashboards(t, s)
	s.stop()
	s = startClickHouseServer(t, dataDir, config)
	checkClickHouseIssuesRunsDashboards(t, s)
}

// checkClickHouseIssuesRunsDashboards reads the issue, run, dashboard and profile the
// test made.
func checkClickHouseIssuesRunsDashboards(t *testing.T, s *server) {
	t.Helper()
	issues := getIssues(t, s)
	require.Len(t, issues, 1, "%+v", issues)
	require.Equal(t, "*errors.errorString", issues[0].Type)
	require.EqualValues(t, 2, issues[0].Events, "a span event and a log record")
	require.Len(t, getIssueEvents(t, s, issues[0].ID), 2)
	runNamed(t, s, "e2e-ch", "failed", 30*time.Second)
	status, a := dashCall(t, s, "GET", "/svc", "")
	require.Equal(t, 200, status, a)
	require.Contains(t, dashUIDs(t, s, ""), "loupe-runs", "the built-in dashboards are listed beside the stored one")
	q := pqRange()
	q.Set("type", pqAlloc)
	q.Set("query", `{service_name="chapp"}`)
	var env struct{ Data pqGraph }
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/flamegraph?"+q.Encode(), http.StatusOK, &env)
	require.Positive(t, env.Data.Total, "the pushed heap profile's allocations")
	require.Positive(t, env.Data.row(".chAllocate").Total, "%+v", env.Data.Top)
}

// chAllocate allocates mb MiB for a heap profile. It is not pqAllocate: allocation profiles
// are cumulative over the test process, and TestProfilesQuery wants none of pqAllocate's
// before it runs it.
//
//go:noinline
func chAllocate(mb int) {
	for i := 0; i < mb*16; i++ {
		pqSink = make([]byte, 64<<10)
	}
}

// checkClickHouseServer reads what the test sent through Loupe's API, the Loki, Tempo
// and Jaeger APIs and PromQL.
func checkClickHouseServer(t *testing.T, s *server, sent checkoutTrace) {
	t.Helper()
	checkCheckoutTrace(t, s, sent) // Loupe's native API: trace by id, search, services
	checkCheckoutLogs(t, s, sent)

	// Loki: LogQL log and metric queries.
	var streams struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/loki/api/v1/query_range?"+url.Values{"query": {`{service_name="payments"} |= "DECLINED" | detected_level="error"`}}.Encode(), 200, &streams)
	require.Equal(t, "streams", streams.Data.ResultType)
	require.Len(t, streams.Data.Result, 1)
	require.Equal(t, "Card DECLINED by acme: insufficient funds", streams.Data.Result[0].Values[0][1])
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
	require.Equal(t, map[string]any{"frontend": "1", "payments": "1"}, counts)

	// Tempo: trace by id as protobuf, and TraceQL search.
	req, err := http.NewRequest("GET", s.HTTP+"/api/traces/"+sent.TraceID.String(), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/protobuf")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	tr := ptraceotlp.NewExportRequest()
	require.NoError(t, tr.UnmarshalProto(body))
	require.Equal(t, 2, tr.Traces().SpanCount())
	var search struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
		} `json:"traces"`
	}
	getJSON(t, s.HTTP+"/api/search?"+url.Values{"q": {`{ resource.service.name = "payments" && status = error }`}}.Encode(), 200, &search)
	require.Len(t, search.Traces, 1)
	require.Equal(t, "frontend", search.Traces[0].RootServiceName)

	// Jaeger.
	var services struct {
		Data []string `json:"data"`
	}
	getJSON(t, s.HTTP+"/jaeger/api/services", 200, &services)
	require.Equal(t, []string{"frontend", "payments"}, services.Data)
	var jt struct {
		Data []struct {
			Spans []struct {
				OperationName string `json:"operationName"`
			} `json:"spans"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/jaeger/api/traces/"+sent.TraceID.String(), 200, &jt)
	require.Len(t, jt.Data, 1)
	require.Len(t, jt.Data[0].Spans, 2)

	// Prometheus: OTLP metrics through PromQL.
	require.Equal(t, map[string]float64{"map[]": 60}, instant(t, s, `sum(http_server_requests_total)`))
	require.Equal(t, map[string]float64{"map[]": 20}, instant(t, s, `sum(http_server_request_duration_seconds_count)`))
	got := instant(t, s, `sum by (http_route) (rate(http_server_requests_total{job="frontend"}[5m]))`)
	require.Len(t, got, 2, "%v", got)
	require.InDelta(t, 2.0, got["map[http_route:/cart]"]/got["map[http_route:/checkout]"], 1e-9)
	gauge := instant(t, s, `queue_depth`)
	require.Len(t, gauge, 1)
	for labels, v := range gauge {
		require.Equal(t, 7.0, v)
		require.Contains(t, labels, "job:frontend")
	}
	require.Len(t, instant(t, s, `target_info{job="frontend",deployment_environment="e2e"}`), 1)
}
