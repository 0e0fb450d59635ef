package promscrape

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// requireDebianPackage makes sure that file exists, installing pkg with apt-get when it does
// not, and skips the test only when it cannot be installed.
func requireDebianPackage(t *testing.T, file, pkg string) {
	t.Helper()
	if _, err := os.Stat(file); err == nil {
		return
	}
	cmd := exec.Command("apt-get", "install", "-y", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("%s is missing and apt-get install %s failed: %v\n%s", file, pkg, err, out)
	}
	if _, err := os.Stat(file); err != nil {
		t.Skipf("%s is missing after installing %s", file, pkg)
	}
}

// debianPython returns Debian's python3 with prometheus_client importable.
func debianPython(t *testing.T) string {
	t.Helper()
	requireDebianPackage(t, "/usr/lib/python3/dist-packages/prometheus_client/__init__.py", "python3-prometheus-client")
	requireDebianPackage(t, "/usr/bin/python3", "python3")
	return "/usr/bin/python3"
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// startProcess runs a command until the test ends and returns it.
func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	logFile := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	f, err := os.Create(logFile)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s output:\n%s", name, b)
		}
	})
	return cmd
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "%s never answered", url)
}

// startNodeExporter runs Debian's node_exporter on a random loopback port and returns its
// host:port.
func startNodeExporter(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/prometheus-node-exporter"
	requireDebianPackage(t, bin, "prometheus-node-exporter")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, bin, "--web.listen-address="+addr)
	waitHTTP(t, "http://"+addr+"/metrics")
	return addr
}

// startDiceApp runs testdata/dice_app.py and returns its host:port and process.
func startDiceApp(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	py := debianPython(t)
	port := freePort(t)
	cmd := startProcess(t, py, "testdata/dice_app.py", fmt.Sprint(port))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitHTTP(t, "http://"+addr+"/metrics")
	return addr, cmd
}

// openStore opens a real TSDB-backed metric store in a temporary directory.
func openStore(t *testing.T) *tsdb.Store {
	t.Helper()
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// querier evaluates instant PromQL queries against a store at the current time.
type querier struct {
	t      *testing.T
	st     *tsdb.Store
	engine *promql.Engine
}

func newQuerier(t *testing.T, st *tsdb.Store) *querier {
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:    1_000_000,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
	})
	t.Cleanup(func() { _ = engine.Close() })
	return &querier{t: t, st: st, engine: engine}
}

// vector returns the result of an instant query as "labels => value" lines.
func (q *querier) vector(expr string) map[string]float64 {
	q.t.Helper()
	qry, err := q.engine.NewInstantQuery(context.Background(), q.st, nil, expr, time.Now())
	require.NoError(q.t, err)
	defer qry.Close()
	res := qry.Exec(context.Background())
	require.NoError(q.t, res.Err, expr)
	vec, err := res.Vector()
	require.NoError(q.t, err, expr)
	out := map[string]float64{}
	for _, s := range vec {
		out[s.Metric.String()] = s.F
	}
	return out
}

// scalar returns the single value of an instant query, or ok=false when it has none.
func (q *querier) scalar(expr string) (v float64, ok bool) {
	q.t.Helper()
	vec := q.vector(expr)
	if len(vec) != 1 {
		return 0, false
	}
	for _, v := range vec {
		return v, true
	}
	return 0, false
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 60*time.Second, 100*time.Millisecond, what)
}

// testOptions make discovery hand over targets quickly.
func testOptions() Options {
	o := DefaultOptions()
	o.DiscoveryUpdateInterval = 100 * time.Millisecond
	o.TargetSyncInterval = 100 * time.Millisecond
	return o
}

// mustConfig parses scrape config YAML, failing the test on error.
func mustConfig(t *testing.T, text string) Config {
	t.Helper()
	c, err := ParseConfig([]byte(strings.TrimSpace(text)))
	require.NoError(t, err)
	return c
}

// labelsString formats a label map as labels.Labels.String does.
func labelsString(m map[string]string) string {
	return labels.FromMap(m).String()
}
