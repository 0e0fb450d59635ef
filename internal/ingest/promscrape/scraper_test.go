package promscrape

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
)

func startScraper(t *testing.T, cfg Config, app *querier) *Scraper {
	t.Helper()
	s, err := New(cfg, app.st, testOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	return s
}

func TestScrapeNodeExporterAndPythonApp(t *testing.T) {
	node := startNodeExporter(t)
	dice, diceCmd := startDiceApp(t)
	q := newQuerier(t, openStore(t))
	s := startScraper(t, mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs: [{targets: [%q]}]
  - job_name: dice
    static_configs: [{targets: [%q], labels: {app: dice}}]
`, node, dice)), q)

	eventually(t, "both targets up", func() bool {
		up := q.vector(`up`)
		return up[fmt.Sprintf(`{__name__="up", instance=%q, job="node"}`, node)] == 1 &&
			up[fmt.Sprintf(`{__name__="up", app="dice", instance=%q, job="dice"}`, dice)] == 1
	})
	eventually(t, "dice rolls counted", func() bool {
		v, ok := q.scalar(`sum(dice_rolls_total{job="dice", app="dice"})`)
		return ok && v > 0
	})
	rolls := q.vector(`dice_rolls_total`)
	for l := range rolls {
		require.Regexp(t, `roll_value="[1-6]"`, l)
	}
	cpu, ok := q.scalar(`count(node_cpu_seconds_total{job="node"})`)
	require.True(t, ok)
	require.Positive(t, cpu)
	for _, synthetic := range []string{"scrape_duration_seconds", "scrape_samples_scraped",
		"scrape_samples_post_metric_relabeling", "scrape_series_added"} {
		n, ok := q.scalar(`count(` + synthetic + `)`)
		require.True(t, ok, synthetic)
		require.Equal(t, 2.0, n, synthetic)
	}

	active := s.Targets(context.Background()).TargetsActive()
	require.Len(t, active["node"], 1)
	require.Len(t, active["dice"], 1)
	require.ElementsMatch(t, []string{"dice", "node"}, s.ScrapePools(context.Background()).ScrapePools())
	meta := s.Metadata()
	require.Equal(t, model.MetricTypeCounter, meta["dice_rolls"].Type)
	require.Equal(t, "The number of rolls by roll value.", meta["dice_rolls"].Help)

	// A stopped target turns up to 0.
	require.NoError(t, diceCmd.Process.Kill())
	eventually(t, "dice target down", func() bool {
		v, ok := q.scalar(`up{job="dice"}`)
		return ok && v == 0
	})
	v, ok := q.scalar(`up{job="node"}`)
	require.True(t, ok)
	require.Equal(t, 1.0, v)
}

func TestFileSDAndRelabeling(t *testing.T) {
	dice, _ := startDiceApp(t)
	q := newQuerier(t, openStore(t))
	dir := t.TempDir()
	writeTargets := func(env string) {
		// Written to a temporary name and renamed, as file_sd expects.
		body := fmt.Sprintf(`[
  {"targets": [%q], "labels": {"env": %q}},
  {"targets": ["127.0.0.1:1"], "labels": {"env": %q, "skip": "yes"}}
]`, dice, env, env)
		tmp := filepath.Join(dir, "targets.json.tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(body), 0o644))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "targets.json")))
	}
	writeTargets("staging")

	cfg := mustConfig(t, `
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs:
  - job_name: files
    file_sd_configs:
      - files: [sd/*.json]
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [skip]
        regex: "yes"
        action: drop
      - target_label: team
        replacement: dice-team
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: dice_rolls_total
        action: keep
`)
	// Relative file_sd paths resolve against Config.Dir, as against the config file's directory.
	require.NoError(t, os.Symlink(dir, filepath.Join(dir, "sd")))
	cfg.Dir = dir
	s := startScraper(t, cfg, q)

	eventually(t, "relabelled series", func() bool {
		v, ok := q.scalar(`sum(dice_rolls_total{job="files", env="staging", team="dice-team"})`)
		return ok && v > 0
	})
	// metric_relabel_configs kept only the counter; up is not subject to it.
	n, ok := q.scalar(`count({job="files", __name__=~"python_.*|process_.*"})`)
	require.False(t, ok, "dropped families were stored: %v", n)
	up, ok := q.scalar(`up{job="files"}`)
	require.True(t, ok)
	require.Equal(t, 1.0, up)

	tr := s.Targets(context.Background())
	require.Len(t, tr.TargetsActive()["files"], 1)
	require.Len(t, tr.TargetsDropped()["files"], 1)
	require.Equal(t, 1, tr.TargetsDroppedCounts()["files"])

	// A changed file is picked up without a reload.
	writeTargets("production")
	eventually(t, "file_sd change applied", func() bool {
		v, ok := q.scalar(`sum(dice_rolls_total{env="production"})`)
		return ok && v > 0
	})
}

func TestBasicAuthBearerAndTLS(t *testing.T) {
	const body = "# TYPE secret_value gauge\nsecret_value 42\n"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, basic := r.BasicAuth()
		if (basic && user == "alice" && pass == "s3cret") || r.Header.Get("Authorization") == "Bearer tok" {
			_, _ = w.Write([]byte(body))
			return
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	require.NoError(t, os.WriteFile(caFile, pemBytes, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "password"), []byte("s3cret"), 0o600))
	target := strings.TrimPrefix(srv.URL, "https://")

	q := newQuerier(t, openStore(t))
	cfg := mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs:
  - job_name: basic
    scheme: https
    tls_config: {ca_file: ca.pem}
    basic_auth: {username: alice, password_file: password}
    static_configs: [{targets: [%[1]q]}]
  - job_name: bearer
    scheme: https
    tls_config: {ca_file: ca.pem}
    authorization: {credentials: tok}
    honor_labels: true
    static_configs: [{targets: [%[1]q]}]
  - job_name: wrong
    scheme: https
    tls_config: {ca_file: ca.pem}
    authorization: {credentials: nope}
    static_configs: [{targets: [%[1]q]}]
`, target))
	cfg.Dir = dir
	startScraper(t, cfg, q)

	eventually(t, "authenticated scrapes", func() bool {
		got := q.vector(`secret_value`)
		return len(got) == 2 && got[fmt.Sprintf(`{__name__="secret_value", instance=%q, job="basic"}`, target)] == 42
	})
	eventually(t, "unauthenticated target down", func() bool {
		v, ok := q.scalar(`up{job="wrong"}`)
		return ok && v == 0
	})
}

func TestApplyConfig(t *testing.T) {
	dice, _ := startDiceApp(t)
	q := newQuerier(t, openStore(t))
	s := startScraper(t, Default(), q)

	// A bad configuration is refused and names the problem; the running one is kept.
	bad := mustConfig(t, "scrape_configs: [{job_name: x, scrape_intervall: 1s}]")
	require.ErrorContains(t, s.ApplyConfig(bad), "scrape_intervall")

	cfg := mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs: [{job_name: later, static_configs: [{targets: [%q]}]}]
`, dice))
	require.NoError(t, s.ApplyConfig(cfg))
	eventually(t, "target added by reload", func() bool {
		v, ok := q.scalar(`up{job="later"}`)
		return ok && v == 1
	})
	require.NoError(t, s.ApplyConfig(Default()))
	eventually(t, "pool removed by reload", func() bool {
		return len(s.Targets(context.Background()).TargetsActive()) == 0
	})
}

func TestConfigValidate(t *testing.T) {
	f := func(text, wantErr string) {
		t.Helper()
		c, err := ParseConfig([]byte(text))
		if err == nil {
			err = c.Validate()
		}
		if wantErr == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, wantErr)
	}
	f(``, "")
	f(`scrape_configs: []`, "")
	f(`scrape_configs: [{job_name: a, static_configs: [{targets: ["h:1"]}]}]`, "")
	f(`scrape_interval: 0s`, "scrape_interval must be positive")
	f(`scrape_interval: 5s
scrape_timeout: 10s`, "scrape_timeout 10s is greater than scrape_interval 5s")
	f(`scrape_configs: {job_name: a}`, "scrape_configs must be a list")
	f(`scrape_configs: [{static_configs: []}]`, "job_name is empty")
	f(`scrape_configs: [{job_name: a}, {job_name: a}]`, `found multiple scrape configs with job name "a"`)
	f(`scrape_configs: [{job_name: a, relabel_configs: [{action: explode}]}]`, "unknown relabel action")
	f(`scrape_configs: [{job_name: a, scrape_interval: 1s, scrape_timeout: 2s}]`, "scrape timeout greater than scrape interval")
	f(`scrape_config_files: ["[bad"]`, "scrape config files")
}

func TestShutdownWithoutStart(t *testing.T) {
	s, err := New(Default(), openStore(t), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()))
	require.Error(t, s.Start(context.Background()))
	require.Error(t, s.ApplyConfig(Default()))

	// Metrics are unregistered on shutdown, so a new scraper can use the same registry.
	reg := prometheus.NewRegistry()
	for range 2 {
		s, err := New(Default(), openStore(t), DefaultOptions(), nil, reg)
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, s.Shutdown(ctx))
		cancel()
	}
}

// TestSharedRegistry checks that the scraper's metrics and the Prometheus API's metrics
// can live on one registry, as they do in the server.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := openStore(t)
	api, err := prom.New(st, prom.DefaultOptions(), nil, reg)
	require.NoError(t, err)
	defer api.Close()
	s, err := New(Default(), st, DefaultOptions(), nil, reg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()))
}
