package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/common/model"
)

// The storage section: the backend (embedded or ClickHouse) and its settings.

// StorageConfig chooses the backend and tunes it.
type StorageConfig struct {
	// Backend is where every signal is stored: BackendEmbedded (DuckDB and Prometheus'
	// TSDB in data_dir) or BackendClickHouse (storage.clickhouse; docs/scale-out.md).
	Backend           string           `yaml:"backend"`
	DuckDBMemoryLimit string           `yaml:"duckdb_memory_limit"` // DuckDB syntax, e.g. "512MB"
	DuckDBThreads     int              `yaml:"duckdb_threads"`      // 0 means DuckDB's default
	ClickHouse        ClickHouseConfig `yaml:"clickhouse"`
}

// Storage backends (storage.backend).
const (
	BackendEmbedded   = "embedded"
	BackendClickHouse = "clickhouse"
)

// ClickHouseConfig is the ClickHouse backend's connection and schema (docs/scale-out.md).
type ClickHouseConfig struct {
	// DSN is clickhouse-go's, clickhouse://user:password@host:9000[,host2:9000]/?dial_timeout=5s,
	// or chdb:///path/to/dir for ClickHouse in-process (binaries built with -tags chdb,
	// for tests).
	DSN string `yaml:"dsn"`
	// Database holds Loupe's tables; created at start when missing.
	Database string `yaml:"database"`
	// Cluster, when set, makes the tables Replicated and Distributed, created ON CLUSTER.
	Cluster string `yaml:"cluster"`
	// Leader runs the work that must happen once per database: rule evaluation and alert
	// sending, retention's partition drops, Sentry Crons' missed and timed-out check-ins,
	// Prometheus and pprof scrape jobs. Several nodes sharing a database: true on exactly
	// one (docs/scale-out.md). Default true, so that one node works alone.
	Leader bool `yaml:"leader"`
	// InsertConcurrency, InsertQueue and InsertTimeout bound ingest's wait on a slow or
	// unreachable ClickHouse, per signal: inserts in flight, callers waiting for a slot
	// (one more is refused at once), and the time from the call to the insert's end
	// (chsql.InsertLimits). A refused insert is answered as a throttled request (HTTP 429,
	// gRPC UNAVAILABLE with a retry delay; docs/scale-out.md).
	InsertConcurrency int            `yaml:"insert_concurrency"`
	InsertQueue       int            `yaml:"insert_queue"`
	InsertTimeout     model.Duration `yaml:"insert_timeout"`
}

// RunsOnceWork reports whether this node runs the work that must happen once per store
// (storage.clickhouse.leader): always on the embedded backend, which is one node.
func (s StorageConfig) RunsOnceWork() bool {
	return s.Backend != BackendClickHouse || s.ClickHouse.Leader
}

// chName is what Loupe accepts as a ClickHouse database or cluster name: it goes into DDL
// (quoted, but a name needing quotes is a mistake more often than not).
var chName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// validate checks the backend choice and, for ClickHouse, the connection settings. The DSN
// is not echoed in errors: it may hold a password.
func (s StorageConfig) validate() []error {
	var errs []error
	switch s.Backend {
	case BackendEmbedded:
		if !s.ClickHouse.Leader {
			// The embedded stores belong to one node: nothing else would run rules and retention.
			return []error{errors.New("storage.clickhouse.leader: false needs storage.backend: clickhouse (an embedded data_dir has one node, which must run rules and retention)")}
		}
		return nil
	case BackendClickHouse:
	default:
		return []error{fmt.Errorf("storage.backend: %q: want %s or %s", s.Backend, BackendEmbedded, BackendClickHouse)}
	}
	ch := s.ClickHouse
	switch {
	case ch.DSN == "":
		errs = append(errs, errors.New("storage.clickhouse.dsn: must be set with storage.backend: clickhouse (clickhouse://host:9000, or chdb:///dir in a binary built with -tags chdb)"))
	case strings.HasPrefix(ch.DSN, "chdb://"):
		if strings.TrimPrefix(ch.DSN, "chdb://") == "" {
			errs = append(errs, errors.New("storage.clickhouse.dsn: chdb:// needs a directory (chdb:///path/to/dir)"))
		}
	case !strings.HasPrefix(ch.DSN, "clickhouse://"):
		errs = append(errs, errors.New("storage.clickhouse.dsn: want clickhouse://[user[:password]@]host:port[,host:port]/[?options], or chdb:///dir"))
	}
	if !chName.MatchString(ch.Database) {
		errs = append(errs, fmt.Errorf("storage.clickhouse.database: %q: want a name of letters, digits and _ . -, not starting with a digit", ch.Database))
	}
	if ch.Cluster != "" && !chName.MatchString(ch.Cluster) {
		errs = append(errs, fmt.Errorf("storage.clickhouse.cluster: %q: want a name of letters, digits and _ . -, not starting with a digit", ch.Cluster))
	}
	if ch.InsertConcurrency <= 0 {
		errs = append(errs, fmt.Errorf("storage.clickhouse.insert_concurrency: %d, must be > 0", ch.InsertConcurrency))
	}
	if ch.InsertQueue < 0 {
		errs = append(errs, fmt.Errorf("storage.clickhouse.insert_queue: %d, must be >= 0", ch.InsertQueue))
	}
	if ch.InsertTimeout <= 0 {
		errs = append(errs, fmt.Errorf("storage.clickhouse.insert_timeout: %s, must be > 0", ch.InsertTimeout))
	}
	if ch.Cluster != "" && strings.HasPrefix(ch.DSN, "chdb://") {
		errs = append(errs, errors.New("storage.clickhouse.cluster: chDB (chdb://) is one process, not a cluster: leave cluster empty"))
	}
	return errs
}
