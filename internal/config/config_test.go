package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Log.Level = "x"
	cfg.Limits.MaxRequestBytes = 0
	err := cfg.Validate()
	require.ErrorContains(t, err, "log.level")
	require.ErrorContains(t, err, "limits.max_request_bytes")
}
