package config

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tenant"
)

func TestDefaultIsValid(t *testing.T) {
	require.NoError(t, Default().Validate())
}

func TestLoadOverridesDefaults(t *testing.T) {
	cfg, err := Load(strings.NewReader(`
data_dir: /var/lib/loupe
retention:
  logs: 3d
listen:
  http: 0.0.0.0:9090
`))
	require.NoError(t, err)
	require.Equal(t, "/var/lib/loupe", cfg.DataDir)
	require.Equal(t, 72*time.Hour, time.Duration(cfg.Retention.Logs))
	require.Equal(t, 7*24*time.Hour, time.Duration(cfg.Retention.Spans), "unset keys keep defaults")
	require.Equal(t, "0.0.0.0:9090", cfg.Listen.HTTP)
	require.Equal(t, Default().Listen.OTLPGRPC, cfg.Listen.OTLPGRPC)
	require.NoError(t, cfg.Validate())
}

func TestLoadEmptyFileGivesDefaults(t *testing.T) {
	cfg, err := Load(strings.NewReader(""))
	require.NoError(t, err)
	require.Equal(t, Default(), cfg)
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	_, err := Load(strings.NewReader("retention:\n  log: 3d\n"))
	require.ErrorContains(t, err, "field log not found")
}

func TestLoadRejectsBadDuration(t *testing.T) {
	_, err := Load(strings.NewReader("retention:\n  logs: three days\n"))
	require.ErrorContains(t, err, "three days")
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	f := func(mutate func(*Config), want string) {
		t.Helper()
		cfg := Default()
		mutate(&cfg)
		require.ErrorContains(t, cfg.Validate(), want)
	}
	f(func(c *Config) { c.DataDir = " " }, `data_dir: " ": must not be empty`)
	f(func(c *Config) { c.Log.Level = "loud" }, `log.level: "loud"`)
	f(func(c *Config) { c.Log.Format = "xml" }, `log.format: "xml"`)
	f(func(c *Config) { c.Listen.HTTP = "7070" }, `listen.http: "7070": want host:port`)
	f(func(c *Config) { c.Retention.Spans = 0 }, `retention.spans: 0s: must be at least 1h`)
	f(func(c *Config) { c.Limits.QueueItems = -1 }, `limits.queue_items: -1: must be positive`)
	f(func(c *Config) { c.Storage.DuckDBThreads = -2 }, `storage.duckdb_threads: -2`)
	f(func(c *Config) { c.Query.Nice = 20 }, `query.nice: 20: must be between 0 (queries at ingest's priority) and 19`)
	f(func(c *Config) { c.Query.Nice = -1 }, `query.nice: -1`)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Log.Level = "x"
	cfg.Limits.MaxRequestBytes = 0
	err := cfg.Validate()
	require.ErrorContains(t, err, "log.level")
	require.ErrorContains(t, err, "limits.max_request_bytes")
}

func TestQueryAndIngestWindowKeys(t *testing.T) {
	cfg, err := Load(strings.NewReader(`
limits:
  max_future: 5m
  max_age: 3d
  max_log_streams: 100
query:
  max_concurrent: 2
  queue_timeout: 1s
  timeout: 30s
  max_query_depth: 64
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, 5*time.Minute, time.Duration(cfg.Limits.MaxFuture))
	require.Equal(t, 72*time.Hour, time.Duration(cfg.Limits.MaxAge))
	require.Equal(t, 100, cfg.Limits.MaxLogStreams)
	require.Equal(t, 2, cfg.Query.MaxConcurrent)
	require.Equal(t, 30*time.Second, time.Duration(cfg.Query.Timeout))
	require.Equal(t, 64, cfg.Query.MaxQueryDepth)
	require.Equal(t, Default().Query.MaxQueryLength, cfg.Query.MaxQueryLength, "unset keys keep defaults")

	bad := Default()
	bad.Query.MaxConcurrent = -1
	bad.Query.Timeout = 0
	bad.Query.MaxQueued = -1
	bad.Limits.MaxLogStreams = -1
	err = bad.Validate()
	for _, key := range []string{"query.max_concurrent: -1", "query.timeout: 0s", "query.max_queued: -1", "limits.max_log_streams: -1"} {
		require.ErrorContains(t, err, key)
	}
}

// limits.min_free_disk_bytes sets the free space both stores keep (issue 18): loaded,
// validated, 0 allowed (no guard), negative refused naming the key.
func TestMinFreeDiskBytesKey(t *testing.T) {
	require.Equal(t, int64(32<<20), Default().Limits.MinFreeDiskBytes, "the stores' default reserve")
	cfg, err := Load(strings.NewReader("limits:\n  min_free_disk_bytes: 1073741824\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, int64(1<<30), cfg.Limits.MinFreeDiskBytes)
	cfg.Limits.MinFreeDiskBytes = 0
	require.NoError(t, cfg.Validate())
	cfg.Limits.MinFreeDiskBytes = -1
	require.ErrorContains(t, cfg.Validate(), "limits.min_free_disk_bytes: -1: must be 0 (no guard) or positive")
}

// query.max_tails bounds the live tails open at once (issue 18): default 10 as Loki's
// max_concurrent_tail_requests, 0 for no limit, negative refused naming the key.
func TestMaxTailsKey(t *testing.T) {
	require.Equal(t, 10, Default().Query.MaxTails)
	cfg, err := Load(strings.NewReader("query:\n  max_tails: 3\n"))
	require.NoError(t, err)
	require.Equal(t, 3, cfg.Query.MaxTails)
	require.NoError(t, cfg.Validate())
	cfg.Query.MaxTails = -1
	require.ErrorContains(t, cfg.Validate(), "query.max_tails: -1: must be 0 (no limit) or positive")
}

// rules: names rule files (globs relative to the configuration file's directory) and the
// default evaluation interval (1m, as Prometheus' global.evaluation_interval).
func TestRulesKeys(t *testing.T) {
	require.Equal(t, time.Minute, time.Duration(Default().Rules.EvaluationInterval))
	cfg, err := Load(strings.NewReader("rules:\n  files: [rules/*.yml, /etc/loupe/extra.yml]\n  evaluation_interval: 15s\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, 15*time.Second, time.Duration(cfg.Rules.EvaluationInterval))
	require.Equal(t, []string{"rules/*.yml", "/etc/loupe/extra.yml"}, cfg.RuleFiles(), "no directory: the working one")
	cfg.Scrape.Dir = "/srv/loupe"
	require.Equal(t, []string{"/srv/loupe/rules/*.yml", "/etc/loupe/extra.yml"}, cfg.RuleFiles())

	cfg.Rules.EvaluationInterval = 0
	cfg.Rules.Files = []string{"ok.yml", " ", "[bad"}
	err = cfg.Validate()
	require.ErrorContains(t, err, "rules.evaluation_interval: 0s: must be positive")
	require.ErrorContains(t, err, `rules.files[1]: " ": must not be empty`)
	require.ErrorContains(t, err, `rules.files[2]: "[bad": not a valid glob`)
}

func TestAlertingKeys(t *testing.T) {
	def := Default()
	require.Equal(t, "", def.AlertmanagerConfigFile(), "no embedded Alertmanager by default")
	require.Equal(t, "http://127.0.0.1:7070/", def.AlertingURL().String(), "derived from listen.http")
	def.Listen.HTTP = "0.0.0.0:9090"
	require.Equal(t, "http://localhost:9090/", def.AlertingURL().String())

	cfg, err := Load(strings.NewReader("alerting:\n  alertmanager_config: am.yml\n  external_url: https://loupe.example.com/x\n  alertmanagers: [http://am1:9093, https://am2/prefix/]\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, "am.yml", cfg.AlertmanagerConfigFile())
	cfg.Scrape.Dir = "/srv/loupe"
	require.Equal(t, "/srv/loupe/am.yml", cfg.AlertmanagerConfigFile())
	cfg.Alerting.AlertmanagerConfig = "/etc/am.yml"
	require.Equal(t, "/etc/am.yml", cfg.AlertmanagerConfigFile())
	require.Equal(t, "https://loupe.example.com/x/", cfg.AlertingURL().String())

	cfg.Alerting.ExternalURL = "loupe.example.com"
	cfg.Alerting.Alertmanagers = []string{"http://ok:9093", "ftp://am"}
	err = cfg.Validate()
	require.ErrorContains(t, err, `alerting.external_url: "loupe.example.com": must be an absolute http or https URL`)
	require.ErrorContains(t, err, `alerting.alertmanagers[1]: "ftp://am": must be an absolute http or https URL`)
}

// query.max_concurrent 0, the default, is half the cores Go may use, at least 1.
func TestQueryConcurrency(t *testing.T) {
	require.Equal(t, 3, QueryConfig{MaxConcurrent: 3}.Concurrency())
	want := max(1, runtime.GOMAXPROCS(0)/2)
	require.Equal(t, want, Default().Query.Concurrency())
}

// storage.clickhouse.leader is true unless the file says false; only a leader runs the
// work that must happen once, and the embedded backend always does.
func TestStorageLeader(t *testing.T) {
	cfg, err := Load(strings.NewReader("storage:\n  backend: clickhouse\n  clickhouse:\n    dsn: clickhouse://ch:9000\n"))
	require.NoError(t, err)
	require.True(t, cfg.Storage.ClickHouse.Leader)
	require.True(t, cfg.Storage.RunsOnceWork())
	cfg, err = Load(strings.NewReader("storage:\n  backend: clickhouse\n  clickhouse:\n    dsn: clickhouse://ch:9000\n    leader: false\n"))
	require.NoError(t, err)
	require.False(t, cfg.Storage.RunsOnceWork())
	require.NoError(t, cfg.Validate())
	require.True(t, Default().Storage.RunsOnceWork())
}

func TestValidateStorageBackend(t *testing.T) {
	f := func(mutate func(*StorageConfig), want string) {
		t.Helper()
		cfg := Default()
		mutate(&cfg.Storage)
		err := cfg.Validate()
		if want == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, want)
	}
	f(func(s *StorageConfig) {}, "")
	f(func(s *StorageConfig) { s.Backend = "" }, `storage.backend: "": want embedded or clickhouse`)
	f(func(s *StorageConfig) { s.Backend = "postgres" }, `storage.backend: "postgres"`)
	f(func(s *StorageConfig) { s.Backend = BackendClickHouse }, "storage.clickhouse.dsn: must be set")
	f(func(s *StorageConfig) { s.Backend, s.ClickHouse.DSN = BackendClickHouse, "clickhouse://ch:9000/" }, "")
	f(func(s *StorageConfig) { s.Backend, s.ClickHouse.DSN = BackendClickHouse, "chdb:///tmp/x" }, "")
	f(func(s *StorageConfig) { s.Backend, s.ClickHouse.DSN = BackendClickHouse, "chdb://" }, "chdb:// needs a directory")
	f(func(s *StorageConfig) { s.Backend, s.ClickHouse.DSN = BackendClickHouse, "http://u:secret@ch:8123" }, "storage.clickhouse.dsn: want clickhouse://")
	f(func(s *StorageConfig) {
		s.Backend, s.ClickHouse.DSN, s.ClickHouse.Database = BackendClickHouse, "clickhouse://ch:9000", "my db"
	}, `storage.clickhouse.database: "my db"`)
	f(func(s *StorageConfig) {
		s.Backend, s.ClickHouse.DSN, s.ClickHouse.Cluster = BackendClickHouse, "clickhouse://ch:9000", "prod"
	}, "")
	f(func(s *StorageConfig) {
		s.Backend, s.ClickHouse.DSN, s.ClickHouse.Cluster = BackendClickHouse, "chdb:///tmp/x", "prod"
	}, "chDB (chdb://) is one process")
	f(func(s *StorageConfig) {
		s.Backend, s.ClickHouse.DSN, s.ClickHouse.Leader = BackendClickHouse, "clickhouse://ch:9000", false
	}, "")
	f(func(s *StorageConfig) { s.ClickHouse.Leader = false }, "storage.clickhouse.leader: false needs storage.backend: clickhouse")
	// The DSN may hold a password: errors do not repeat it.
	cfg := Default()
	cfg.Storage.Backend, cfg.Storage.ClickHouse.DSN = BackendClickHouse, "http://u:secret@ch:8123"
	require.NotContains(t, cfg.Validate().Error(), "secret")
}

func TestTenantLimitsKeys(t *testing.T) {
	cfg, err := Load(strings.NewReader(`
tenants:
  limits: {ingest_rate: 1000, max_series: 5000}
  overrides:
    team-a: {ingest_rate: 10, max_bytes_per_day: 0}
    team-b: {max_series: 0, ingest_burst: 50, max_bytes_per_day: 1000000}
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, tenant.Limits{IngestRate: 1000, MaxSeries: 5000}, cfg.Tenants.LimitsFor("default"))
	require.Equal(t, tenant.Limits{IngestRate: 10, MaxSeries: 5000}, cfg.Tenants.LimitsFor("team-a"))
	require.Equal(t, tenant.Limits{IngestRate: 1000, IngestBurst: 50, MaxBytesPerDay: 1000000}, cfg.Tenants.LimitsFor("team-b"),
		"an override's 0 turns the limit off; keys it does not set are tenants.limits'")

	cfg, err = Load(strings.NewReader(`
tenants:
  limits: {ingest_rate: -1, max_bytes_per_day: -5}
  overrides:
    "a/b": {ingest_rate: 1}
    ok: {max_series: -2, ingest_burst: -3}
`))
	require.NoError(t, err)
	err = cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"tenants.limits.ingest_rate: -1", "tenants.limits.max_bytes_per_day: -5",
		`tenants.overrides: tenant id "a/b"`, "tenants.overrides.ok.max_series: -2", "tenants.overrides.ok.ingest_burst: -3"} {
		require.Contains(t, err.Error(), want)
	}

	_, err = Load(strings.NewReader("tenants:\n  overrides:\n    a: {ingest_rates: 1}\n"))
	require.ErrorContains(t, err, "ingest_rates", "unknown override keys are refused")
}
