package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/server"
)

// serveGCPercent is the garbage collector's target when GOGC is not set. Ingest allocates
// short-lived protobuf objects at a high rate, and the profile-guided pass measured 5–13%
// more log records per CPU-second at 200 than at Go's default of 100, for a heap that may
// grow to three times the live data instead of two (docs/performance.md).
const serveGCPercent = 200

// setGCPercent applies serveGCPercent unless the user chose with GOGC.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

func newServeCmd() *cobra.Command {
	var (
		configPath string
		over       config.Config // flag values; applied only when the flag was given
		retention  string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Loupe server (ingest, storage, query APIs)",
		Long: `Run the Loupe server. With no flags it stores data in ./loupe-data and listens on
loopback: OTLP gRPC 127.0.0.1:4317, OTLP HTTP 127.0.0.1:4318, APIs and UI 127.0.0.1:7070.
Flags override the YAML file given with --config, which overrides the defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			if err := applyFlags(&cfg, cmd.Flags(), over, retention); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			logger, err := newLogger(cmd.ErrOrStderr(), cfg.Log)
			if err != nil {
				return err
			}
			setGCPercent()
			load := func() (config.Config, error) {
				c, err := loadConfig(configPath)
				if err != nil {
					return config.Config{}, err
				}
				return c, applyFlags(&c, cmd.Flags(), over, retention)
			}
			return serve(cmd.Context(), cfg, load, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file (see docs/configuration.md)")
	f.StringVar(&over.DataDir, "data-dir", "", "directory for all stored data (data_dir)")
	f.StringVar(&over.Listen.HTTP, "http-listen", "", "address for the query APIs, UI and /metrics (listen.http)")
	f.StringVar(&over.Listen.OTLPGRPC, "otlp-grpc-listen", "", "address for OTLP over gRPC (listen.otlp_grpc)")
	f.StringVar(&over.Listen.OTLPHTTP, "otlp-http-listen", "", "address for OTLP over HTTP (listen.otlp_http)")
	f.StringVar(&retention, "retention", "", "retention for every signal, e.g. 7d (retention.*)")
	f.StringVar(&over.Statsd.UDPAddr, "statsd-listen", "", "address for StatsD over UDP and TCP (statsd.udp_addr, statsd.tcp_addr)")
	f.BoolVar(&over.Listen.Insecure, "insecure-listen", false, "allow listening beyond loopback without authentication (listen.insecure; docs/security.md)")
	f.StringVar(&over.Log.Level, "log-level", "", "debug, info, warn or error (log.level)")
	f.StringVar(&over.Log.Format, "log-format", "", "text or json (log.format)")
	return cmd
}

func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return config.Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	cfg, err := config.Load(f)
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Scrape.Dir = filepath.Dir(path) // relative file_sd and credential paths
	cfg.Profiling.Dir = cfg.Scrape.Dir
	return cfg, nil
}

// applyFlags copies the flags the user set over cfg.
func applyFlags(cfg *config.Config, fs *pflag.FlagSet, over config.Config, retention string) error {
	set := func(name string, dst *string, val string) {
		if fs.Changed(name) {
			*dst = val
		}
	}
	set("data-dir", &cfg.DataDir, over.DataDir)
	set("http-listen", &cfg.Listen.HTTP, over.Listen.HTTP)
	set("otlp-grpc-listen", &cfg.Listen.OTLPGRPC, over.Listen.OTLPGRPC)
	set("otlp-http-listen", &cfg.Listen.OTLPHTTP, over.Listen.OTLPHTTP)
	set("log-level", &cfg.Log.Level, over.Log.Level)
	set("log-format", &cfg.Log.Format, over.Log.Format)
	set("statsd-listen", &cfg.Statsd.UDPAddr, over.Statsd.UDPAddr)
	set("statsd-listen", &cfg.Statsd.TCPAddr, over.Statsd.UDPAddr)
	if fs.Changed("insecure-listen") {
		cfg.Listen.Insecure = over.Listen.Insecure
	}
	if fs.Changed("retention") {
		d, err := model.ParseDuration(retention)
		if err != nil {
			return fmt.Errorf("--retention %q: %w", retention, err)
		}
		cfg.Retention = config.RetentionConfig{Logs: d, Spans: d, Metrics: d, Errors: d, Profiles: d}
	}
	return nil
}

func newLogger(w io.Writer, c config.LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts it down.
func serve(ctx context.Context, cfg config.Config, load func() (config.Config, error), logger *slog.Logger) error {
	srv := server.New(cfg, load, logger)
	if err := srv.Start(ctx); err != nil {
		// Start may have opened stores before failing; close them.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-hup:
			if err := srv.Reload(ctx); err != nil {
				logger.Error("reload configuration", "err", err)
			}
		case <-ctx.Done():
			done = true
		}
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
