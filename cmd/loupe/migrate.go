package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/migrate"
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

func newMigrateCmd() *cobra.Command {
	var (
		configPath, dataDir, dsn, database string
		force                              bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --config FILE",
		Short: "Copy an embedded data directory into the ClickHouse backend",
		Long: `Copy what the embedded backend stored in the data directory (DuckDB: logs, spans, job runs,
dashboards, error issues and events, profiles; the TSDB: metrics) into ClickHouse, so that a server moved to storage.backend: clickhouse
keeps its history. The configuration is the one the server will run with: its data_dir
is read and its storage.clickhouse written (--data-dir, --to-dsn and --database
override them). Stop the server first: the data directory's files are opened for
reading and writing. Stored dashboards are copied with their kept versions. A
destination already holding some of these is refused unless --force (logs, spans and
profiles would be stored twice). See docs/scale-out.md.`,
		Example: `  loupe migrate --config loupe-clickhouse.yaml
  loupe migrate --data-dir ./loupe-data --to-dsn clickhouse://loupe:secret@ch1:9000/ --database loupe`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			fs := cmd.Flags()
			if fs.Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if fs.Changed("to-dsn") {
				cfg.Storage.Backend = config.BackendClickHouse
				cfg.Storage.ClickHouse.DSN = dsn
			}
			if fs.Changed("database") {
				cfg.Storage.ClickHouse.Database = database
			}
			if cfg.Storage.Backend != config.BackendClickHouse {
				return errors.New("loupe migrate copies into ClickHouse: give --config a file with storage.backend: clickhouse (docs/scale-out.md), or --to-dsn")
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			return runMigrate(cmd.Context(), cfg, force, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration of the ClickHouse server (storage.clickhouse, data_dir, retention)")
	f.StringVar(&dataDir, "data-dir", "", "the embedded data directory to copy (data_dir)")
	f.StringVar(&dsn, "to-dsn", "", "ClickHouse to copy into (storage.clickhouse.dsn; sets storage.backend: clickhouse)")
	f.StringVar(&database, "database", "", "ClickHouse database (storage.clickhouse.database)")
	f.BoolVar(&force, "force", false, "copy even into a destination that holds data already (logs, spans and profiles are then stored twice)")
	return cmd
}

// runMigrate opens the data directory's stores and ClickHouse's, as the server would, and
// copies.
func runMigrate(ctx context.Context, cfg config.Config, force bool, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	duckPath := filepath.Join(cfg.DataDir, "loupe.duckdb")
	if _, err := os.Stat(duckPath); err != nil {
		return fmt.Errorf("data directory %s: %w (is it the embedded backend's data_dir?)", cfg.DataDir, err)
	}
	duckOpts := duck.DefaultOptions()
	duckOpts.MemoryLimit = cfg.Storage.DuckDBMemoryLimit
	duckOpts.Threads = cfg.Storage.DuckDBThreads
	duckOpts.QueryNice = 0 // no ingest to leave the CPU to
	events, err := duck.Open(duckPath, duckOpts, logger.With("component", "duckdb"), prometheus.NewRegistry())
	if err != nil {
		return fmt.Errorf("open %s (is a server still running on it?): %w", duckPath, err)
	}
	defer events.Close()
	src := migrate.Source{Logs: events, Spans: events, Runs: events, Errors: events, Profiles: events}
	if src.Dashboards, err = events.Dashboards(ctx); err != nil {
		return fmt.Errorf("open %s: %w", duckPath, err)
	}
	metricsDir := filepath.Join(cfg.DataDir, "metrics")
	if _, err := os.Stat(metricsDir); err == nil {
		// Opened as the server opens it, but for two settings that would change the
		// source: no retention (the destination's may be shorter, and the TSDB drops
		// expired blocks at open; ClickHouse's TTL applies after the copy instead), and
		// no compaction into blocks larger than the first level.
		tsdbOpts := tsdb.DefaultOptions()
		tsdbOpts.Retention = 100 * 365 * 24 * time.Hour
		tsdbOpts.MaxBlockDuration = 2 * time.Hour
		tsdbOpts.OutOfOrderTimeWindow = time.Duration(cfg.Metrics.OutOfOrderWindow)
		if tsdbOpts.OutOfOrderTimeWindow == 0 {
			tsdbOpts.OutOfOrderTimeWindow = time.Duration(cfg.Retention.Metrics)
		}
		metrics, err := tsdb.Open(metricsDir, tsdbOpts, logger.With("component", "tsdb"), prometheus.NewRegistry())
		if err != nil {
			return fmt.Errorf("open %s: %w", metricsDir, err)
		}
		defer metrics.Close()
		src.Metrics = metrics
	} else {
		fmt.Fprintf(stdout, "metrics: no TSDB in %s: nothing to copy\n", metricsDir)
	}

	ch := cfg.Storage.ClickHouse
	conn, err := chsql.Open(ctx, ch.DSN, ch.Database, ch.Cluster)
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
	}
	defer conn.Close()
	schema := chsql.Schema{Database: ch.Database, Cluster: ch.Cluster}
	chLogger := logger.With("component", "clickhouse")
	ret := cfg.Retention
	var dst migrate.Destination
	if dst.Logs, err = chlogs.New(ctx, conn, schema, chlogs.Options{Retention: time.Duration(ret.Logs)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse logs store: %w", err)
	}
	if dst.Spans, err = chspans.New(ctx, conn, schema, chspans.Options{Retention: time.Duration(ret.Spans)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse spans store: %w", err)
	}
	if dst.Metrics, err = chmetrics.New(ctx, conn, schema, chmetrics.Options{Retention: time.Duration(ret.Metrics)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse metrics store: %w", err)
	}
	if dst.Runs, err = chruns.New(ctx, conn, schema, chruns.Options{Retention: time.Duration(ret.Spans)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse runs store: %w", err)
	}
	if dst.Dashboards, err = chdashboards.New(ctx, conn, schema, chLogger); err != nil {
		return fmt.Errorf("open clickhouse dashboards store: %w", err)
	}
	if dst.Errors, err = cherrors.New(ctx, conn, schema, cherrors.Options{Retention: time.Duration(ret.Errors)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse errors store: %w", err)
	}
	if dst.Profiles, err = chprofiles.New(ctx, conn, schema, chprofiles.Options{Retention: time.Duration(ret.Profiles)}, chLogger); err != nil {
		return fmt.Errorf("open clickhouse profiles store: %w", err)
	}

	fmt.Fprintf(stdout, "copying %s into clickhouse database %s\n", cfg.DataDir, ch.Database)
	began := time.Now()
	counts, err := migrate.Run(ctx, src, dst, migrate.Options{Force: force, Progress: stdout})
	if err != nil {
		return err
	}
	var total int64
	for _, c := range counts {
		total += c.Copied
	}
	fmt.Fprintf(stdout, "done: %d items in %s\n", total, time.Since(began).Round(time.Millisecond))
	return nil
}
