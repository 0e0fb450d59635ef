package promscrape

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
)

// TestPrometheusRemoteWrite runs Debian's Prometheus scraping node_exporter with
// remote_write to Loupe's /api/v1/write, and checks that the series Prometheus stored
// arrive in Loupe unchanged.
func TestPrometheusRemoteWrite(t *testing.T) {
	const bin = "/usr/bin/prometheus"
	requireDebianPackage(t, bin, "prometheus")
	node := startNodeExporter(t)

	st := openStore(t)
	api, err := prom.New(st, prom.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })
	loupe := httptest.NewServer(api)
	t.Cleanup(loupe.Close)

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}
`, node, loupe.URL)), 0o644))
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
	)
	waitHTTP(t, "http://"+promAddr+"/-/ready")

	q := newQuerier(t, st)
	// The same node_cpu_seconds_total series in Prometheus and in Loupe.
	const expr = `node_cpu_seconds_total{job="node"}`
	eventually(t, "remote-written series match Prometheus' own", func() bool {
		want := promInstantQuery(t, promAddr, expr)
		got := q.vector(expr)
		if len(want) == 0 || len(got) != len(want) {
			return false
		}
		for l := range want {
			if _, ok := got[l]; !ok {
				return false
			}
		}
		return true
	})
	eventually(t, "up arrives", func() bool {
		v, ok := q.scalar(`up{job="node"}`)
		return ok && v == 1
	})
	// Every metric family Prometheus scraped arrives.
	eventually(t, "same metric names", func() bool {
		want := promInstantQuery(t, promAddr, `count by (__name__) ({job="node"})`)
		got := q.vector(`count by (__name__) ({job="node"})`)
		for l := range want {
			if _, ok := got[l]; !ok {
				return false
			}
		}
		return len(want) > 100
	})
}

// promInstantQuery asks a Prometheus server an instant query and returns its result in
// the same "labels" form as querier.vector.
func promInstantQuery(t *testing.T, addr, expr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status)
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		out[labelsString(r.Metric)] = 0
	}
	return out
}
