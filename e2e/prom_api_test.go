package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type metadataEntry struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// metadataOf returns /api/v1/metadata of a Prometheus-API server, by family.
func metadataOf(t *testing.T, base string) map[string][]metadataEntry {
	t.Helper()
	var resp struct {
		Status string                     `json:"status"`
		Data   map[string][]metadataEntry `json:"data"`
	}
	getJSON(t, base+"/api/v1/metadata", 200, &resp)
	require.Equal(t, "success", resp.Status)
	return resp.Data
}

// TestPrometheusAPIWithRealPrometheus runs Debian's Prometheus scraping node_exporter and
// remote-writing to Loupe, while Loupe scrapes that Prometheus: the node_* families
// Prometheus knows show in Loupe's /api/v1/metadata (remote write metadata was dropped),
// Loupe's target on localhost is healthy without an error (it showed ": missing port in
// address"), /api/v1/scrape_pools lists the job (it was empty) and /api/v1/status/config
// is Loupe's scrape configuration with its password hidden (it was Prometheus' defaults).
func TestPrometheusAPIWithRealPrometheus(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	const promBin, nodeBin = "/usr/bin/prometheus", "/usr/bin/prometheus-node-exporter"
	for _, bin := range []string{promBin, nodeBin} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s is installed by `make test` (Debian packages prometheus, prometheus-node-exporter): %v", bin, err)
		}
	}
	nodePort, promPort := freePort(t), freePort(t)
	startProcess(t, nodeBin, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", nodePort))

	// Loupe scrapes Prometheus every second; no scrape_timeout: it is min(10s, 1s).
	cfgPath := writeConfig(t, fmt.Sprintf(`scrape:
  scrape_interval: 1s
  scrape_configs:
    - job_name: prometheus
      basic_auth: {username: loupe, password: hunter2}
      static_configs: [{targets: ['127.0.0.1:%d']}]
`, promPort))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	dir := t.TempDir()
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:%d']}]
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}
    metadata_config: {send: true, send_interval: 1s}
`, nodePort, s.HTTP)), 0o644))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	startProcess(t, promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(promURL, "http://"))

	eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(promURL + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("prometheus not ready: %s", resp.Status)
		}
		return nil
	})

	// Every node_* family Prometheus has metadata for arrives with the same metadata.
	eventually(t, 60*time.Second, func() error {
		want := metadataOf(t, promURL)
		got := metadataOf(t, s.HTTP)
		n := 0
		for family, w := range want {
			if !strings.HasPrefix(family, "node_") {
				continue
			}
			n++
			if g := got[family]; len(g) != 1 || g[0] != w[0] {
				return fmt.Errorf("family %s: Loupe has %v, Prometheus %v", family, g, w)
			}
		}
		if n < 14 {
			return fmt.Errorf("Prometheus knows %d node_* families so far", n)
		}
		return nil
	})

	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
				LastError  string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/v1/targets", 200, &targets)
		if a := targets.Data.ActiveTargets; len(a) != 1 || a[0].Health != "up" {
			return fmt.Errorf("targets: %+v", a)
		}
		return nil
	})
	require.Equal(t, "prometheus", targets.Data.ActiveTargets[0].ScrapePool)
	require.Empty(t, targets.Data.ActiveTargets[0].LastError)

	var pools struct {
		Data struct {
			ScrapePools []string `json:"scrapePools"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/v1/scrape_pools", 200, &pools)
	require.Equal(t, []string{"prometheus"}, pools.Data.ScrapePools)

	var cfg struct {
		Data struct {
			YAML string `json:"yaml"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/v1/status/config", 200, &cfg)
	require.Contains(t, cfg.Data.YAML, "job_name: prometheus")
	require.Contains(t, cfg.Data.YAML, "scrape_timeout: 1s")
	require.Contains(t, cfg.Data.YAML, "password: <secret>")
	require.NotContains(t, cfg.Data.YAML, "hunter2")

	// The remote-written samples arrived too.
	require.NotEmpty(t, instant(t, s, `node_cpu_seconds_total{job="node"}`))
}

// startProcess starts a helper program and kills it at the end of the test.
func startProcess(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}
