package promscrape

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
)

// apiGet calls the Prometheus API and decodes the data of its envelope into out.
func apiGet(t *testing.T, base, path string, out any) {
	t.Helper()
	resp, err := http.Get(base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	require.Equal(t, "success", env.Status, path)
	require.NoError(t, json.Unmarshal(env.Data, out), string(env.Data))
}

// TestTargetsPoolsAndConfigInAPI scrapes a healthy target on localhost and checks what the
// Prometheus API says about it: no error (it said ": missing port in address"), the
// scrape pools (empty before), and the running configuration with its secrets hidden
// (Prometheus' defaults before).
func TestTargetsPoolsAndConfigInAPI(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE jobs_done_total counter\njobs_done_total 3")
	}))
	t.Cleanup(exporter.Close)
	host := strings.TrimPrefix(exporter.URL, "http://")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/token", []byte("file-token"), 0o600))
	cfg := mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_configs:
  - job_name: app
    basic_auth: {username: loupe, password: hunter2}
    static_configs: [{targets: [%q]}]
  - job_name: other
    scrape_interval: 5s
    authorization: {credentials: s3cr3t-token}
    static_configs: [{targets: ["127.0.0.1:1"]}]
`, host))
	cfg.Dir = dir
	q := newQuerier(t, openStore(t))
	s := startScraper(t, cfg, q)

	api, err := prom.New(q.st, prom.Options{
		LookbackDelta: 5 * time.Minute, QueryTimeout: time.Minute, MaxSamples: 1000, MaxConcurrentQueries: 1,
		Targets: s.Targets,
	}, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	var pools struct {
		ScrapePools []string `json:"scrapePools"`
	}
	apiGet(t, srv.URL, "/api/v1/scrape_pools", &pools)
	require.Equal(t, []string{"app", "other"}, pools.ScrapePools)

	type target struct {
		ScrapePool string `json:"scrapePool"`
		ScrapeURL  string `json:"scrapeUrl"`
		GlobalURL  string `json:"globalUrl"`
		LastError  string `json:"lastError"`
		Health     string `json:"health"`
	}
	var app target
	eventually(t, "the app target is scraped", func() bool {
		var res struct {
			ActiveTargets []target `json:"activeTargets"`
		}
		apiGet(t, srv.URL, "/api/v1/targets?scrapePool=app", &res)
		if len(res.ActiveTargets) != 1 || res.ActiveTargets[0].Health != "up" {
			return false
		}
		app = res.ActiveTargets[0]
		return true
	})
	require.Empty(t, app.LastError)
	hostname, err := os.Hostname()
	require.NoError(t, err)
	_, port, _ := strings.Cut(host, ":")
	require.Equal(t, "http://"+hostname+":"+port+"/metrics", app.GlobalURL)

	var status struct {
		YAML string `json:"yaml"`
	}
	apiGet(t, srv.URL, "/api/v1/status/config", &status)
	require.Contains(t, status.YAML, "job_name: app")
	require.Contains(t, status.YAML, "job_name: other")
	require.Contains(t, status.YAML, "scrape_interval: 1s")
	require.Contains(t, status.YAML, "password: <secret>")
	require.Contains(t, status.YAML, "credentials: <secret>")
	require.NotContains(t, status.YAML, "hunter2")
	require.NotContains(t, status.YAML, "s3cr3t-token")

	// After a reload the endpoint shows the new configuration.
	cfg2 := mustConfig(t, `{scrape_interval: 2s, scrape_configs: [{job_name: renamed, static_configs: [{targets: ["127.0.0.1:1"]}]}]}`)
	require.NoError(t, s.ApplyConfig(cfg2))
	apiGet(t, srv.URL, "/api/v1/status/config", &status)
	require.Contains(t, status.YAML, "job_name: renamed")
	require.NotContains(t, status.YAML, "job_name: app")
	apiGet(t, srv.URL, "/api/v1/scrape_pools", &pools)
	require.Equal(t, []string{"renamed"}, pools.ScrapePools)
}

// TestScrapeTimeoutDefault checks that an unset scrape_timeout is min(10s, interval),
// globally and per job, as in Prometheus (a global scrape_interval below 10s was refused).
func TestScrapeTimeoutDefault(t *testing.T) {
	f := func(text string, wantGlobal time.Duration, wantJobs map[string]time.Duration) {
		t.Helper()
		pc, err := mustConfig(t, text).Prometheus()
		require.NoError(t, err)
		require.Equal(t, model.Duration(wantGlobal), pc.GlobalConfig.ScrapeTimeout)
		scfgs, err := pc.GetScrapeConfigs()
		require.NoError(t, err)
		got := map[string]time.Duration{}
		for _, c := range scfgs {
			got[c.JobName] = time.Duration(c.ScrapeTimeout)
		}
		require.Equal(t, wantJobs, got)
	}
	f(``, 10*time.Second, map[string]time.Duration{})
	f(`scrape_interval: 5s`, 5*time.Second, map[string]time.Duration{})
	f(`scrape_interval: 30s`, 10*time.Second, map[string]time.Duration{})
	f(`
scrape_interval: 5s
scrape_configs:
  - {job_name: fast, scrape_interval: 2s}
  - {job_name: slow, scrape_interval: 1m}
  - {job_name: own, scrape_interval: 1m, scrape_timeout: 30s}
`, 5*time.Second, map[string]time.Duration{"fast": 2 * time.Second, "slow": 5 * time.Second, "own": 30 * time.Second})
	f(`
scrape_interval: 1m
scrape_configs:
  - {job_name: fast, scrape_interval: 3s}
  - {job_name: default}
`, 10*time.Second, map[string]time.Duration{"fast": 3 * time.Second, "default": 10 * time.Second})
}
