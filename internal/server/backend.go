package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	promconfig "github.com/prometheus/prometheus/config"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chdashboards"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/cherrors"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chlogs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chmetrics"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chprofiles"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chruns"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chspans"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/duck"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// stores are the backend's stores, typed by what the rest of the server uses of them, so
// that the embedded backend (DuckDB + Prometheus' TSDB) and ClickHouse are interchangeable.
type stores struct {
	logs interface {
		store.LogWriter
		store.LogReader
	}
	logQL plan.Store // the LogQL engine's access to the logs
	spans interface {
		store.SpanWriter
		store.TraceReader
	}
	metrics metricStore
	runs    interface {
		runs.Writer
		runs.Reader
	}
	errors   errtrack.Store
	profiles interface {
		store.ProfileWriter
		store.ProfileReader
	}
	// dashboards opens the dashboards store (issue 15) when the API is built.
	dashboards func(context.Context) (dashboards.Store, error)
	retainer   store.Retainer // drops what is older than each signal's retention
	sizer      store.Sizer    // loupe_store_disk_bytes, metrics included
	// unsupported are the routes (mux patterns) the backend cannot serve, answered 501
	// with the reason instead (docs/scale-out.md lists them).
	unsupported map[string]string
}

// metricStore is what PromQL, remote write, rules, scrapes, StatsD and OTLP metrics need.
// Optional capabilities (prom.MetadataSource, prom.MetadataRecorder, TSDB admin stats) are
// found by type assertion where they are used.
type metricStore interface {
	prom.Storage
	store.MetricWriter
}

// openStores opens the configured backend's stores and registers their closing.
func (s *Server) openStores(ctx context.Context) (*stores, error) {
	switch s.cfg.Storage.Backend {
	case config.BackendClickHouse:
		return s.openClickHouse(ctx)
	case config.BackendEmbedded, "": // "": a configuration built in code
		return s.openEmbedded()
	default:
		return nil, fmt.Errorf("storage.backend %q: want %s or %s", s.cfg.Storage.Backend, config.BackendEmbedded, config.BackendClickHouse)
	}
}

// openEmbedded opens DuckDB (logs, spans, runs, errors, profiles, dashboards) and the
// TSDB (metrics) in the data dir.
func (s *Server) openEmbedded() (*stores, error) {
	duckOpts := duck.DefaultOptions()
	duckOpts.MemoryLimit = s.cfg.Storage.DuckDBMemoryLimit
	duckOpts.Threads = s.cfg.Storage.DuckDBThreads
	duckOpts.MinFreeBytes = s.cfg.Limits.MinFreeDiskBytes
	duckOpts.QueryNice = s.cfg.Query.Nice
	events, err := duck.Open(filepath.Join(s.cfg.DataDir, "loupe.duckdb"), duckOpts, s.logger.With("component", "duckdb"), s.reg)
	if err != nil {
		return nil, fmt.Errorf("open logs and spans store: %w", err)
	}
	s.add(closer{events.Close})

	tsdbOpts := tsdb.DefaultOptions()
	tsdbOpts.Retention = time.Duration(s.cfg.Retention.Metrics)
	tsdbOpts.PromoteResourceAttributes = s.cfg.Metrics.PromoteResourceAttributes
	tsdbOpts.ConvertDelta = s.cfg.Metrics.ConvertDelta
	tsdbOpts.MinFreeBytes = s.cfg.Limits.MinFreeDiskBytes
	// The tenant's tenants.limits.max_series (a headless tenant server's config carries its own).
	tsdbOpts.MaxSeries = s.cfg.Tenants.LimitsFor(s.cfg.Tenants.Default).MaxSeries
	tsdbOpts.Tenant = s.cfg.Tenants.Default
	tsdbOpts.OutOfOrderTimeWindow = time.Duration(s.cfg.Metrics.OutOfOrderWindow)
	if tsdbOpts.OutOfOrderTimeWindow == 0 {
		tsdbOpts.OutOfOrderTimeWindow = tsdbOpts.Retention
	}
	metricsDir := filepath.Join(s.cfg.DataDir, "metrics")
	metrics, err := tsdb.Open(metricsDir, tsdbOpts, s.logger, s.reg)
	if err != nil {
		return nil, fmt.Errorf("open metrics store: %w", err)
	}
	s.add(closer{metrics.Close})

	return &stores{
		logs: events, logQL: events.LogQL(), spans: events, metrics: metrics,
		runs: events, errors: events, profiles: events,
		dashboards: func(ctx context.Context) (dashboards.Store, error) { return events.Dashboards(ctx) },
		retainer:   events,
		sizer:      embeddedSizer{events: events, metricsDir: metricsDir},
	}, nil
}

// embeddedSizer adds the TSDB's files to DuckDB's sizes.
type embeddedSizer struct {
	events     store.Sizer
	metricsDir string
}

func (e embeddedSizer) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	sizes, err := e.events.DiskBytes(ctx)
	if sizes == nil {
		sizes = map[store.Signal]int64{}
	}
	sizes[store.SignalMetrics] = tsdb.FilesSize(e.metricsDir)
	return sizes, err
}

// openClickHouse connects to storage.clickhouse and opens one store per signal on the
// connection, each migrating its tables (docs/scale-out.md). Retention is both the tables'
// TTL and the retention loop's DropBefore, as on the embedded backend.
func (s *Server) openClickHouse(ctx context.Context) (*stores, error) {
	cfg := s.cfg.Storage.ClickHouse
	conn, err := chsql.Open(ctx, cfg.DSN, cfg.Database, cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse store: %w", err)
	}
	s.add(closer{conn.Close})
	schema := chsql.Schema{Database: cfg.Database, Cluster: cfg.Cluster, Follower: !cfg.Leader}
	logger := s.logger.With("component", "clickhouse")
	ret := s.cfg.Retention
	fail := func(what string, err error) (*stores, error) {
		return nil, fmt.Errorf("open clickhouse %s store: %w", what, err)
	}
	// Every ingest path reaches ClickHouse through these stores' inserts: each signal's
	// store gets its own insert slots and deadline (storage.clickhouse.insert_*), so that a
	// slow server throttles ingest (429) instead of piling up writers.
	limiter := chsql.NewInsertLimiter(chsql.InsertLimits{
		Concurrency: cfg.InsertConcurrency, Queue: cfg.InsertQueue, Timeout: time.Duration(cfg.InsertTimeout),
	}, s.reg, logger)
	ingestConn := func(signal store.Signal) chsql.Conn { return limiter.Conn(conn, string(signal)) }

	logs, err := chlogs.New(ctx, ingestConn(store.SignalLogs), schema, chlogs.Options{Retention: time.Duration(ret.Logs)}, logger)
	if err != nil {
		return fail("logs", err)
	}
	spans, err := chspans.New(ctx, ingestConn(store.SignalSpans), schema, chspans.Options{Retention: time.Duration(ret.Spans)}, logger)
	if err != nil {
		return fail("spans", err)
	}
	metrics, err := chmetrics.New(ctx, ingestConn(store.SignalMetrics), schema, chmetrics.Options{
		Retention:   time.Duration(ret.Metrics),
		Translation: s.metricTranslation(),
	}, logger)
	if err != nil {
		return fail("metrics", err)
	}
	runStore, err := chruns.New(ctx, ingestConn(store.SignalRuns), schema, chruns.Options{Retention: time.Duration(ret.Spans)}, logger)
	if err != nil {
		return fail("runs", err)
	}
	errStore, err := cherrors.New(ctx, conn, // limited as a whole below (gatedErrors)
		schema, cherrors.Options{Retention: time.Duration(ret.Errors)}, logger)
	if err != nil {
		return fail("errors", err)
	}
	profStore, err := chprofiles.New(ctx, ingestConn(store.SignalProfiles), schema, chprofiles.Options{Retention: time.Duration(ret.Profiles)}, logger)
	if err != nil {
		return fail("profiles", err)
	}
	dashStore, err := chdashboards.New(ctx, conn, schema, logger)
	if err != nil {
		return fail("dashboards", err)
	}
	return &stores{
		logs: logs, logQL: logs.LogQL(), spans: spans, metrics: metrics,
		runs: runStore, errors: gatedErrors{errStore, limiter.Gate(string(store.SignalErrors))}, profiles: profStore,
		dashboards: func(context.Context) (dashboards.Store, error) { return dashStore, nil },
		retainer: signalRetainer{
			store.SignalLogs: logs, store.SignalSpans: spans, store.SignalRuns: runStore,
			store.SignalErrors: errStore, store.SignalProfiles: profStore,
		},
		sizer: sizers{logs, spans, metrics, runStore, errStore, profStore},
		unsupported: map[string]string{
			// Prometheus' TSDB statistics (cardinality by label): there is no TSDB.
			"GET /api/v1/status/tsdb": "TSDB statistics are not supported on the clickhouse backend (storage.backend: clickhouse): there is no TSDB; see docs/scale-out.md",
		},
	}, nil
}

// metricTranslation are the OTLP-to-Prometheus settings of the ClickHouse metric store,
// the embedded store's defaults (tsdb.DefaultOptions: underscore escaping with suffixes)
// with metrics.promote_resource_attributes. Deltas are rejected there, whatever
// metrics.convert_delta says (docs/scale-out.md).
func (s *Server) metricTranslation() prw.Settings {
	return prw.Settings{
		AddMetricSuffixes: true,
		PromoteResourceAttributes: prw.NewPromoteResourceAttributes(promconfig.OTLPConfig{
			PromoteResourceAttributes: s.cfg.Metrics.PromoteResourceAttributes,
		}),
	}
}

// notSupported answers 501 with why, in the Prometheus API's error format (the only
// unsupported routes so far are Prometheus API paths).
func notSupported(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotImplemented)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "unavailable", "error": why})
	})
}

// signalRetainer sends each signal's DropBefore to the store holding it.
type signalRetainer map[store.Signal]store.Retainer

func (r signalRetainer) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if st, ok := r[signal]; ok {
		return st.DropBefore(ctx, signal, cutoff)
	}
	return nil
}

// sizers merges the sizes of several stores, each reporting its own signals.
type sizers []store.Sizer

func (ss sizers) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	out := map[store.Signal]int64{}
	var errs []error
	for _, s := range ss {
		m, err := s.DiskBytes(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		for sig, n := range m {
			out[sig] += n
		}
	}
	return out, errors.Join(errs...)
}
