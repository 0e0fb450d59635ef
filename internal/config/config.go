// Package config holds Loupe's server configuration: defaults, validation and YAML loading.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/ingest/pprofscrape"
	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/ingest/statsd"
)

// Config is the whole `loupe serve` configuration. The zero value is not useful: start from
// Default() and override.
type Config struct {
	// DataDir holds every store: loupe.duckdb (logs, spans) and metrics/ (Prometheus TSDB).
	DataDir string `yaml:"data_dir"`
	// Log configures Loupe's own logs.
	Log LogConfig `yaml:"log"`
	// Listen holds the addresses Loupe binds. Defaults are loopback only.
	Listen ListenConfig `yaml:"listen"`
	// Retention per signal; data older than this is dropped in whole partitions.
	Retention RetentionConfig `yaml:"retention"`
	// Limits protect the server from oversized or abusive input.
	Limits LimitsConfig `yaml:"limits"`
	// Query bounds the work of the read APIs so that queries cannot starve ingest.
	Query QueryConfig `yaml:"query"`
	// Storage tunes the embedded engines.
	Storage StorageConfig `yaml:"storage"`
	// Metrics controls how OTLP metrics become Prometheus series.
	Metrics MetricsConfig `yaml:"metrics"`
	// Scrape holds Prometheus scrape jobs, in Prometheus' own format (docs/scraping.md).
	Scrape promscrape.Config `yaml:"scrape"`
	// Profiling pulls profiles from Go programs' /debug/pprof endpoints (docs/profiles.md).
	Profiling pprofscrape.Config `yaml:"profiling"`
	// Statsd configures the StatsD/DogStatsD receiver (docs/statsd.md).
	Statsd statsd.Config `yaml:"statsd"`
	// Sentry holds the projects, DSN keys and rate limits of the Sentry ingest
	// (docs/errors.md).
	Sentry sentry.Config `yaml:"sentry"`
	// Scrub removes secrets from logs, spans, error events and job runs before they are
	// stored (docs/security.md#scrubbing).
	Scrub ScrubConfig `yaml:"scrub"`
	// Errors configures error tracking: scrubbing of error events (docs/errors.md); their
	// retention is retention.errors.
	Errors ErrorsConfig `yaml:"errors"`
	// Rules loads Prometheus recording and alerting rule files (docs/alerting.md).
	Rules RulesConfig `yaml:"rules"`
	// Alerting sends the alerts of the rules to the embedded Alertmanager and to external
	// ones (docs/alerting.md).
	Alerting AlertingConfig `yaml:"alerting"`
	// Auth requires API tokens on every port (docs/security.md).
	Auth auth.Config `yaml:"auth"`
	// Dashboards configures the dashboards provisioned from files (docs/dashboards.md).
	Dashboards DashboardsConfig `yaml:"dashboards"`
	// Tenants keeps data apart per tenant (tenants.go, docs/security.md).
	Tenants TenantsConfig `yaml:"tenants"`
}

// DashboardsConfig names the folders of provisioned dashboards, as Grafana's file
// provisioning: every *.json file in them (Loupe's or Grafana's dashboard JSON) is served
// read-only and reloaded when it changes.
type DashboardsConfig struct {
	// ProvisioningDirs are folders of dashboard files, relative ones to the directory of
	// the configuration file (DashboardProvisioningDirs resolves them).
	ProvisioningDirs []string `yaml:"provisioning_dirs"`
	// ProvisioningInterval is how often the folders are checked for changed files.
	ProvisioningInterval model.Duration `yaml:"provisioning_interval"`
}

// AlertingConfig says where alerts go: the embedded Alertmanager, run when
// AlertmanagerConfig names its configuration file, and external Alertmanagers.
type AlertingConfig struct {
	// AlertmanagerConfig is the path of an Alertmanager configuration file, in
	// Alertmanager's own format; relative to the directory of the configuration file
	// (AlertmanagerConfigFile resolves it). Empty: no embedded Alertmanager.
	AlertmanagerConfig string `yaml:"alertmanager_config"`
	// ExternalURL is the URL users reach Loupe at, for links in notifications and
	// $externalURL in rule templates. Empty: http://<listen.http>/ (AlertingURL).
	ExternalURL string `yaml:"external_url"`
	// Alertmanagers are the base URLs of external Alertmanagers that also receive every
	// alert, as Prometheus' alerting.alertmanagers with static targets.
	Alertmanagers []string `yaml:"alertmanagers"`
}

// RulesConfig names the rule files, as Prometheus' rule_files and
// global.evaluation_interval.
type RulesConfig struct {
	// Files are globs of rule files in Prometheus' format. Relative ones are relative to
	// the directory of the configuration file (RuleFiles resolves them).
	Files []string `yaml:"files"`
	// LogQLFiles are globs of Loki ruler files: Prometheus' format with LogQL
	// expressions, evaluated over the logs (docs/alerting.md#logql-rules). Relative ones
	// as Files (LogQLRuleFiles resolves them).
	LogQLFiles []string `yaml:"logql_files"`
	// EvaluationInterval is how often a group is evaluated when it sets no interval.
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	// ForGracePeriod, ForOutageTolerance and ResendDelay are Prometheus' flags
	// --rules.alert.for-grace-period, --rules.alert.for-outage-tolerance and
	// --rules.alert.resend-delay: after a restart the pending `for` state of an alert is
	// restored from ALERTS_FOR_STATE when the server was down for at most
	// ForOutageTolerance, and the alert fires no sooner than ForGracePeriod after the
	// restart when its `for` is at least that long; firing alerts are re-sent every
	// ResendDelay.
	ForGracePeriod     model.Duration `yaml:"for_grace_period"`
	ForOutageTolerance model.Duration `yaml:"for_outage_tolerance"`
	ResendDelay        model.Duration `yaml:"resend_delay"`
}

// ErrorsConfig configures error tracking (internal/errtrack).
type ErrorsConfig struct {
	// Scrubbing replaces, before storage, the values of keys that look sensitive
	// (password, token, cookie, ...) and numbers that look like payment cards.
	Scrubbing bool `yaml:"scrubbing"`
	// ScrubKeys are more key substrings to scrub, on top of the built-in list.
	ScrubKeys []string `yaml:"scrub_keys"`
	// KeepClientIP keeps the client IP address of events (user.ip_address and the
	// forwarding headers); dropped by default.
	KeepClientIP bool `yaml:"keep_client_ip"`
}

// MetricsConfig follows the `otlp` section of Prometheus' configuration.
type MetricsConfig struct {
	// PromoteResourceAttributes are resource attributes copied onto every series as labels
	// (service.name and service.instance.id always become job and instance; every resource
	// attribute is on the target_info series).
	PromoteResourceAttributes []string `yaml:"promote_resource_attributes"`
	// ConvertDelta turns delta sums and histograms into cumulative ones so that rate() works;
	// when false, delta points are rejected as Prometheus does by default.
	ConvertDelta bool `yaml:"convert_delta"`
	// OutOfOrderWindow is how much older than the newest stored sample a sample may be and
	// still be stored; 0 means the whole of retention.metrics, so that `loupe push` can
	// deliver runs spooled days ago and agents can catch up after an outage. Older samples
	// are rejected (an OTLP partial success).
	OutOfOrderWindow model.Duration `yaml:"out_of_order_window"`
}

// LogConfig configures Loupe's own slog output on stderr.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// ListenConfig holds listen addresses (host:port).
type ListenConfig struct {
	HTTP     string `yaml:"http"`      // query APIs, UI, /metrics
	OTLPGRPC string `yaml:"otlp_grpc"` // OTLP over gRPC
	OTLPHTTP string `yaml:"otlp_http"` // OTLP over HTTP (/v1/traces, /v1/logs, /v1/metrics)
	// AllowedHosts are the host names the HTTP ports answer besides loopback names and the
	// listen address's host, against DNS rebinding; "*" answers any. A port that listens
	// beyond loopback answers any name while this is empty.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// TLS, when cert_file is set, serves the HTTP port, OTLP/HTTP and OTLP/gRPC over TLS
	// (docs/security.md), and StatsD's TCP listener with statsd.tcp_tls.
	TLS TLSConfig `yaml:"tls"`
	// Insecure lets a port listen beyond loopback while authentication is off (with a
	// warning); without it `loupe serve` refuses to start so (docs/security.md).
	Insecure bool `yaml:"insecure"`
}

// TLSConfig names the PEM files of the listeners' TLS, re-read when they change
// (internal/tlsconfig). Relative paths are from the configuration file's directory.
type TLSConfig struct {
	CertFile     string `yaml:"cert_file"`      // certificate, intermediates after it
	KeyFile      string `yaml:"key_file"`       // its private key
	ClientCAFile string `yaml:"client_ca_file"` // CAs of accepted client certificates
	// ClientAuth is none, request (verify a certificate the client sends) or require
	// (refuse a client without one signed by client_ca_file).
	ClientAuth string `yaml:"client_auth"`
	// HTTPClientAuth overrides ClientAuth on the HTTP port (UI, query APIs), so that
	// ingest can require client certificates while browsers need none; "" is ClientAuth.
	HTTPClientAuth string `yaml:"http_client_auth"`
	// StatsdClientAuth overrides ClientAuth on StatsD's TCP listener (statsd.tcp_tls);
	// "" is ClientAuth. require is how StatsD clients authenticate.
	StatsdClientAuth string `yaml:"statsd_client_auth"`
}

// Enabled says whether the listeners serve TLS.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" }

// TLSFiles returns listen.tls's file paths joined to the configuration file's directory
// when relative (as rules.files), "" staying "".
func (c Config) TLSFiles() (cert, key, clientCA string) {
	join := func(p string) string {
		if p == "" {
			return ""
		}
		return c.fromConfigDir(p)
	}
	t := c.Listen.TLS
	return join(t.CertFile), join(t.KeyFile), join(t.ClientCAFile)
}

// RetentionConfig is how long each signal is kept.
type RetentionConfig struct {
	Logs    model.Duration `yaml:"logs"`
	Spans   model.Duration `yaml:"spans"`
	Metrics model.Duration `yaml:"metrics"`
	// Errors keeps error events this long (by event time); an issue goes when its last
	// event does.
	Errors model.Duration `yaml:"errors"`
	// Profiles keeps continuous-profiling samples this long (by profile time).
	Profiles model.Duration `yaml:"profiles"`
}

// LimitsConfig bounds what one request may carry and how much may wait to be written.
type LimitsConfig struct {
	MaxRequestBytes        int `yaml:"max_request_bytes"`         // decompressed body size
	MaxAttributesPerItem   int `yaml:"max_attributes_per_item"`   // per log record, span, data point
	MaxAttributeValueBytes int `yaml:"max_attribute_value_bytes"` // per string attribute value
	QueueItems             int `yaml:"queue_items"`               // items waiting per signal before 429
	// MaxFuture and MaxAge bound the time of a log record or span (its start) around the
	// server's clock; items outside are refused (an OTLP partial success, a Loki 400).
	// MaxAge 0 means the signal's retention, past which the item would be dropped anyway.
	MaxFuture model.Duration `yaml:"max_future"`
	MaxAge    model.Duration `yaml:"max_age"`
	// MaxLogStreams bounds the active log streams (distinct resources; Loki: stream
	// labels); records of new streams beyond it are refused. 0 disables the limit.
	MaxLogStreams int `yaml:"max_log_streams"`
	// HTTPReadHeaderTimeout, HTTPBodyTimeout and HTTPIdleTimeout bound how long a client
	// of the HTTP port may take to send its headers, to send a request body, and to keep
	// an idle keep-alive connection, so that slow or silent clients cannot hold
	// connections and memory.
	HTTPReadHeaderTimeout model.Duration `yaml:"http_read_header_timeout"`
	HTTPBodyTimeout       model.Duration `yaml:"http_body_timeout"`
	HTTPIdleTimeout       model.Duration `yaml:"http_idle_timeout"`
	// MinFreeDiskBytes is the free space kept on the data directory's file system: below
	// it, writes of metrics (and, on top of DuckDB's WAL size, of logs and spans) are
	// refused with 503 until space is freed, before the stores meet a full disk, which the
	// metric store does not survive. 0 turns the guard off.
	MinFreeDiskBytes int64 `yaml:"min_free_disk_bytes"`
}

// QueryConfig bounds the queries of every read API (Prometheus, Loki, Tempo, Jaeger and
// Loupe's own), over all of them together. See docs/operations.md.
type QueryConfig struct {
	MaxConcurrent  int            `yaml:"max_concurrent"`   // queries evaluated at once; 0: Concurrency()
	MaxQueued      int            `yaml:"max_queued"`       // queries waiting for a slot before 429
	QueueTimeout   model.Duration `yaml:"queue_timeout"`    // longest wait for a slot before 503
	Timeout        model.Duration `yaml:"timeout"`          // deadline of one query
	MaxQueryLength int            `yaml:"max_query_length"` // bytes of a PromQL, LogQL or TraceQL expression
	MaxQueryDepth  int            `yaml:"max_query_depth"`  // nesting of (), [] and {} in an expression
	MaxSamples     int            `yaml:"max_samples"`      // samples one PromQL or LogQL query may hold
	MaxSeries      int            `yaml:"max_series"`       // series of a LogQL metric query
	MaxEntries     int            `yaml:"max_entries"`      // log lines of a LogQL query (its limit's cap)
	MaxTails       int            `yaml:"max_tails"`        // live tails (Loki /tail websockets) open at once before 429
	Nice           int            `yaml:"nice"`             // added to the nice value of the threads running queries' DuckDB work (0-19)
}

// Concurrency is the number of queries evaluated at once: MaxConcurrent, or when it is 0
// half the CPU cores Go may use, at least 1. Each heavy query keeps DuckDB's threads busy on
// its own; on 2 cores, 1 at a time instead of 4 gave ingest 0.58-0.64 of its rate under 20
// heavy query clients instead of 0.23-0.24, with as many queries answered
// (docs/performance.md).
func (q QueryConfig) Concurrency() int {
	if q.MaxConcurrent > 0 {
		return q.MaxConcurrent
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// Default returns the configuration `loupe serve` runs with when nothing is given.
func Default() Config {
	week := model.Duration(7 * 24 * time.Hour)
	return Config{
		DataDir: "loupe-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		Listen: ListenConfig{
			HTTP:     "127.0.0.1:7070",
			OTLPGRPC: "127.0.0.1:4317",
			OTLPHTTP: "127.0.0.1:4318",
			TLS:      TLSConfig{ClientAuth: "none"},
		},
		Retention: RetentionConfig{Logs: week, Spans: week, Metrics: week, Errors: model.Duration(30 * 24 * time.Hour), Profiles: week},
		Limits: LimitsConfig{
			MaxRequestBytes:        16 << 20,
			MaxAttributesPerItem:   128,
			MaxAttributeValueBytes: 16 << 10,
			QueueItems:             65536,
			MaxFuture:              model.Duration(10 * time.Minute),
			MaxLogStreams:          10000,
			HTTPReadHeaderTimeout:  model.Duration(10 * time.Second),
			HTTPBodyTimeout:        model.Duration(time.Minute),
			HTTPIdleTimeout:        model.Duration(2 * time.Minute),
			MinFreeDiskBytes:       32 << 20, // tsdb.DefaultMinFreeBytes, duck.DefaultMinFreeBytes
		},
		Query: QueryConfig{
			MaxConcurrent:  0,
			MaxQueued:      64,
			QueueTimeout:   model.Duration(10 * time.Second),
			Timeout:        model.Duration(2 * time.Minute),
			MaxQueryLength: 64 << 10,
			MaxQueryDepth:  256,
			MaxSamples:     50_000_000,
			MaxSeries:      20000,
			MaxEntries:     5000,
			Nice:           10,
			MaxTails:       10,
		},
		Storage: StorageConfig{Backend: BackendEmbedded, DuckDBMemoryLimit: "512MB",
			ClickHouse: ClickHouseConfig{Database: "loupe", Leader: true,
				InsertConcurrency: 4, InsertQueue: 64, InsertTimeout: model.Duration(10 * time.Second)}},
		Metrics: MetricsConfig{ConvertDelta: true},
		Errors:  ErrorsConfig{Scrubbing: true},
		Scrub:   ScrubConfig{Defaults: true},
		Rules: RulesConfig{EvaluationInterval: model.Duration(time.Minute),
			ForGracePeriod: model.Duration(10 * time.Minute), ForOutageTolerance: model.Duration(time.Hour),
			ResendDelay: model.Duration(time.Minute)},
		Scrape:     promscrape.Default(),
		Profiling:  pprofscrape.Default(),
		Statsd:     statsd.Default(),
		Sentry:     sentry.Default(),
		Auth:       auth.Default(),
		Dashboards: DashboardsConfig{ProvisioningInterval: model.Duration(10 * time.Second)},
		Tenants:    DefaultTenants(),
	}
}

// DashboardProvisioningDirs returns dashboards.provisioning_dirs, relative ones joined to
// the configuration file's directory.
func (c Config) DashboardProvisioningDirs() []string {
	out := make([]string, 0, len(c.Dashboards.ProvisioningDirs))
	for _, d := range c.Dashboards.ProvisioningDirs {
		out = append(out, c.fromConfigDir(d))
	}
	return out
}

// RuleFiles returns the rules.files globs, relative ones joined to the configuration
// file's directory (fromConfigDir).
func (c Config) RuleFiles() []string {
	out := make([]string, 0, len(c.Rules.Files))
	for _, pat := range c.Rules.Files {
		out = append(out, c.fromConfigDir(pat))
	}
	return out
}

// LogQLRuleFiles returns the rules.logql_files globs, resolved as RuleFiles does.
func (c Config) LogQLRuleFiles() []string {
	out := make([]string, 0, len(c.Rules.LogQLFiles))
	for _, pat := range c.Rules.LogQLFiles {
		out = append(out, c.fromConfigDir(pat))
	}
	return out
}

// AlertmanagerConfigFile returns alerting.alertmanager_config joined to the configuration
// file's directory when relative, or "" when none is set.
func (c Config) AlertmanagerConfigFile() string {
	if c.Alerting.AlertmanagerConfig == "" {
		return ""
	}
	return c.fromConfigDir(c.Alerting.AlertmanagerConfig)
}

// fromConfigDir joins a relative path of the configuration to the directory of its file.
// The loader records that directory in Scrape.Dir (for the scrape section's own relative
// paths); empty means the working directory.
func (c Config) fromConfigDir(p string) string {
	if c.Scrape.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Scrape.Dir, p)
}

// AlertingURL returns alerting.external_url, or when it is empty http://<listen.http>/,
// with "localhost" for an address bound to every interface. Call it on a validated
// configuration.
func (c Config) AlertingURL() *url.URL {
	if c.Alerting.ExternalURL != "" {
		if u, err := parseBaseURL(c.Alerting.ExternalURL); err == nil {
			return u
		}
	}
	host := c.Listen.HTTP
	if h, port, err := net.SplitHostPort(host); err == nil {
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			host = net.JoinHostPort("localhost", port)
		}
	}
	scheme := "http"
	if c.Listen.TLS.Enabled() {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: host, Path: "/"}
}

// parseBaseURL parses an absolute http(s) URL, its path ending in "/".
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http or https URL")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Load reads YAML from r over the defaults. Unknown keys are errors, so a typo never
// silently leaves a default in place.
func Load(r io.Reader) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	return cfg, nil
}

// Validate checks every field and reports all problems at once, each naming the key and the
// bad value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, val any, why string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", key, val, why))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", fmt.Sprintf("%q", c.DataDir), "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", fmt.Sprintf("%q", c.Log.Level), "want debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", fmt.Sprintf("%q", c.Log.Format), "want text or json")
	}
	for key, addr := range map[string]string{
		"listen.http": c.Listen.HTTP, "listen.otlp_grpc": c.Listen.OTLPGRPC, "listen.otlp_http": c.Listen.OTLPHTTP,
	} {
		if addr == "" {
			continue // empty disables the listener
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, fmt.Sprintf("%q", addr), "want host:port")
		}
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, h := range c.Listen.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/: ") && net.ParseIP(h) == nil {
			bad("listen.allowed_hosts", fmt.Sprintf("%q", h), "want a host name or IP address, without scheme or port")
		}
	}
	errs = append(errs, c.Listen.TLS.validate()...)
	if c.Statsd.TCPTLS && c.Statsd.TCPAddr != "" && !c.Listen.TLS.Enabled() {
		bad("statsd.tcp_tls", true, "needs listen.tls.cert_file and key_file, whose certificate it serves")
	}
	for key, d := range map[string]model.Duration{
		"retention.logs": c.Retention.Logs, "retention.spans": c.Retention.Spans, "retention.metrics": c.Retention.Metrics,
		"retention.errors": c.Retention.Errors, "retention.profiles": c.Retention.Profiles,
	} {
		if time.Duration(d) < time.Hour {
			bad(key, d, "must be at least 1h")
		}
	}
	for key, n := range map[string]int{
		"limits.max_request_bytes":         c.Limits.MaxRequestBytes,
		"limits.max_attributes_per_item":   c.Limits.MaxAttributesPerItem,
		"limits.max_attribute_value_bytes": c.Limits.MaxAttributeValueBytes,
		"limits.queue_items":               c.Limits.QueueItems,
		"query.max_query_length":           c.Query.MaxQueryLength,
		"query.max_query_depth":            c.Query.MaxQueryDepth,
		"query.max_samples":                c.Query.MaxSamples,
		"query.max_series":                 c.Query.MaxSeries,
		"query.max_entries":                c.Query.MaxEntries,
	} {
		if n <= 0 {
			bad(key, n, "must be positive")
		}
	}
	if c.Limits.MinFreeDiskBytes < 0 {
		bad("limits.min_free_disk_bytes", c.Limits.MinFreeDiskBytes, "must be 0 (no guard) or positive")
	}
	if c.Limits.MaxLogStreams < 0 {
		bad("limits.max_log_streams", c.Limits.MaxLogStreams, "must be 0 (no limit) or positive")
	}
	if c.Query.MaxTails < 0 {
		bad("query.max_tails", c.Query.MaxTails, "must be 0 (no limit) or positive")
	}
	if c.Query.MaxQueued < 0 {
		bad("query.max_queued", c.Query.MaxQueued, "must be 0 (no queue) or positive")
	}
	for key, d := range map[string]model.Duration{
		"limits.max_future": c.Limits.MaxFuture, "limits.max_age": c.Limits.MaxAge, "query.queue_timeout": c.Query.QueueTimeout,
	} {
		if d < 0 {
			bad(key, d, "must not be negative")
		}
	}
	for key, d := range map[string]model.Duration{
		"limits.http_read_header_timeout": c.Limits.HTTPReadHeaderTimeout,
		"limits.http_body_timeout":        c.Limits.HTTPBodyTimeout,
		"limits.http_idle_timeout":        c.Limits.HTTPIdleTimeout,
	} {
		if d <= 0 {
			bad(key, d, "must be positive")
		}
	}
	if c.Query.Timeout <= 0 {
		bad("query.timeout", c.Query.Timeout, "must be positive")
	}
	if c.Metrics.OutOfOrderWindow > c.Retention.Metrics {
		bad("metrics.out_of_order_window", c.Metrics.OutOfOrderWindow, "must not exceed retention.metrics")
	}
	for i, a := range c.Metrics.PromoteResourceAttributes {
		if strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("metrics.promote_resource_attributes[%d]", i), fmt.Sprintf("%q", a), "must not be empty")
		}
	}
	if err := c.Scrub.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Scrape.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("scrape: %w", err))
	}
	if err := c.Profiling.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("profiling: %w", err))
	}
	if err := c.Statsd.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("statsd: %w", err))
	}
	for i, k := range c.Errors.ScrubKeys {
		if strings.TrimSpace(k) == "" {
			bad(fmt.Sprintf("errors.scrub_keys[%d]", i), fmt.Sprintf("%q", k), "must not be empty")
		}
	}
	if err := c.Sentry.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Tenants.validate()...)
	if c.Tenants.Enabled && c.Storage.Backend == BackendClickHouse {
		bad("tenants.enabled", true, "tenants need the embedded storage for now: each tenant has its own stores in data_dir/tenants/ (docs/security.md#tenants)")
	}
	if time.Duration(c.Dashboards.ProvisioningInterval) < time.Second {
		bad("dashboards.provisioning_interval", c.Dashboards.ProvisioningInterval, "must be at least 1s")
	}
	for i, d := range c.Dashboards.ProvisioningDirs {
		if strings.TrimSpace(d) == "" {
			bad(fmt.Sprintf("dashboards.provisioning_dirs[%d]", i), d, "must not be empty")
		}
	}
	if c.Rules.EvaluationInterval <= 0 {
		bad("rules.evaluation_interval", c.Rules.EvaluationInterval, "must be positive")
	}
	if c.Rules.ForGracePeriod < 0 {
		bad("rules.for_grace_period", c.Rules.ForGracePeriod, "must not be negative")
	}
	if c.Rules.ForOutageTolerance < 0 {
		bad("rules.for_outage_tolerance", c.Rules.ForOutageTolerance, "must not be negative")
	}
	if c.Rules.ResendDelay <= 0 {
		bad("rules.resend_delay", c.Rules.ResendDelay, "must be positive")
	}
	for i, pat := range c.Rules.LogQLFiles {
		key := fmt.Sprintf("rules.logql_files[%d]", i)
		if strings.TrimSpace(pat) == "" {
			bad(key, fmt.Sprintf("%q", pat), "must not be empty")
		} else if _, err := filepath.Match(pat, ""); err != nil {
			bad(key, fmt.Sprintf("%q", pat), "not a valid glob: "+err.Error())
		}
	}
	for i, pat := range c.Rules.Files {
		key := fmt.Sprintf("rules.files[%d]", i)
		if strings.TrimSpace(pat) == "" {
			bad(key, fmt.Sprintf("%q", pat), "must not be empty")
		} else if _, err := filepath.Match(pat, ""); err != nil {
			bad(key, fmt.Sprintf("%q", pat), "not a valid glob: "+err.Error())
		}
	}
	if c.Alerting.ExternalURL != "" {
		if _, err := parseBaseURL(c.Alerting.ExternalURL); err != nil {
			bad("alerting.external_url", fmt.Sprintf("%q", c.Alerting.ExternalURL), err.Error())
		}
	}
	for i, am := range c.Alerting.Alertmanagers {
		if _, err := parseBaseURL(am); err != nil {
			bad(fmt.Sprintf("alerting.alertmanagers[%d]", i), fmt.Sprintf("%q", am), err.Error())
		}
	}
	if c.Query.MaxConcurrent < 0 {
		bad("query.max_concurrent", c.Query.MaxConcurrent, "must be 0 (half the CPU cores) or positive")
	}
	if c.Query.Nice < 0 || c.Query.Nice > 19 {
		bad("query.nice", c.Query.Nice, "must be between 0 (queries at ingest's priority) and 19")
	}
	if c.Storage.DuckDBThreads < 0 {
		bad("storage.duckdb_threads", c.Storage.DuckDBThreads, "must be 0 (default) or positive")
	}
	errs = append(errs, c.Storage.validate()...)
	// Validate ranges over maps; sort so the report is stable.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// validate checks listen.tls without reading the files; the server loads them at start
// and stops naming a file that does not load.
func (t TLSConfig) validate() []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, fmt.Errorf("listen.tls: cert_file %q, key_file %q: set both or neither", t.CertFile, t.KeyFile))
	}
	asks := false
	for key, v := range map[string]string{"listen.tls.client_auth": t.ClientAuth, "listen.tls.http_client_auth": t.HTTPClientAuth,
		"listen.tls.statsd_client_auth": t.StatsdClientAuth} {
		switch v {
		case "", "none": // "" is a configuration built in code (the zero value); none there
		case "request", "require":
			asks = true
		default:
			errs = append(errs, fmt.Errorf("%s: %q: want none, request or require", key, v))
		}
	}
	if asks && t.ClientCAFile == "" {
		errs = append(errs, errors.New("listen.tls.client_ca_file: \"\": client_auth request or require needs the CAs that sign client certificates"))
	}
	if !asks && t.ClientCAFile != "" {
		errs = append(errs, fmt.Errorf("listen.tls.client_ca_file: %q: set, but client_auth is none, so no client certificate would be checked", t.ClientCAFile))
	}
	if !t.Enabled() && (asks || t.ClientCAFile != "") {
		errs = append(errs, errors.New("listen.tls: client certificates need TLS: set cert_file and key_file"))
	}
	return errs
}
