// Package server wires Loupe's parts together and runs them: stores, the ingest pipeline,
// receivers, query APIs and background work, started in order and shut down in reverse.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loupe-dev/loupe/internal/alerting"
	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/derived"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/otelexc"
	"github.com/loupe-dev/loupe/internal/ingest/otlp"
	"github.com/loupe-dev/loupe/internal/ingest/pprofscrape"
	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/ingest/statsd"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/rules"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
	"github.com/loupe-dev/loupe/internal/version"
)

// component is the lifecycle every long-lived part follows: Start returns quickly and runs
// work in the background; Shutdown is safe without Start and safe twice.
type component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// closer adapts a store's Close to the component lifecycle.
type closer struct{ close func() error }

func (closer) Start(context.Context) error      { return nil }
func (c closer) Shutdown(context.Context) error { return c.close() }

// Server is one running Loupe. Create it with New, then Start and Shutdown.
type Server struct {
	cfg    config.Config
	logger *slog.Logger
	reg    *prometheus.Registry

	// load re-reads the configuration for Reload; nil means the configuration cannot change.
	load func() (config.Config, error)

	started  []component // in start order; shut down in reverse
	receiver *otlp.Receiver
	scraper  *promscrape.Scraper
	profiles *pprofscrape.Scraper // pulls /debug/pprof profiles (profiling section)
	rules    *rules.Manager
	am       *alerting.Alertmanager // nil without alerting.alertmanager_config
	ext      *alerting.External     // nil without alerting.alertmanagers
	httpLn   net.Listener
	tls      listenerTLS   // listen.tls (tls.go)
	auth     *auth.Keyring // API tokens (auth.go)
	// The work that must happen once per store (leader.go) this node started or left
	// to the leader, in start order.
	onceStarted, onceSkipped []string

	// Tenants (tenants.go): a server with a parent is one tenant's, headless (no
	// listeners); its parent hands it requests (handler) and OTLP data (pipe). tenants is
	// the parent's set of them, nil when tenants are off.
	parent         *Server
	handler        http.Handler
	pipe           *pipeline.Pipeline
	tenants        *tenantSet
	sentryProjects *sentry.Projects // the DSN keys of this server's (tenant's) projects
}

// New returns a server for cfg (which must have passed Validate). Nothing is opened yet.
// load re-reads the configuration on Reload (SIGHUP, POST /-/reload); it may be nil.
func New(cfg config.Config, load func() (config.Config, error), logger *slog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{cfg: cfg, load: load, logger: logger, reg: reg}
}

// Reload re-reads the configuration and applies what can change while running: the
// Alertmanager configuration file, the external Alertmanagers, the rule files and the
// scrape jobs. Other changes need a restart and are logged. A bad configuration,
// Alertmanager configuration or rule file is refused and the running one kept.
func (s *Server) Reload(context.Context) error {
	if s.auth != nil { // the tokens file, also re-read on change (internal/auth)
		if err := s.auth.Reload(); err != nil {
			return err
		}
	}
	if s.load == nil || s.scraper == nil || s.rules == nil {
		return errors.New("no configuration file to reload")
	}
	cfg, err := s.load()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	if s.am != nil && cfg.AlertmanagerConfigFile() != "" {
		if err := s.am.Reload(cfg.AlertmanagerConfigFile()); err != nil {
			return err
		}
	}
	if s.ext != nil && len(cfg.Alerting.Alertmanagers) > 0 {
		if err := s.ext.SetURLs(cfg.Alerting.Alertmanagers); err != nil {
			return err
		}
	}
	if err := s.rules.Load(cfg.RuleFiles(), cfg.LogQLRuleFiles(), time.Duration(cfg.Rules.EvaluationInterval)); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if s.tenants != nil { // the tenants' own rules (tenants.rules_dir)
		if err := s.tenants.reloadRules(time.Duration(cfg.Rules.EvaluationInterval)); err != nil {
			return err
		}
	}
	if err := s.scraper.ApplyConfig(cfg.Scrape); err != nil {
		return fmt.Errorf("apply scrape config: %w", err)
	}
	if s.profiles != nil {
		if err := s.profiles.ApplyConfig(cfg.Profiling); err != nil {
			return fmt.Errorf("apply profiling config: %w", err)
		}
	}
	s.logger.Info("configuration reloaded; Alertmanager configuration, rules, scrape and profiling jobs applied, other changes need a restart")
	return nil
}

// Start opens the stores and starts every part. On error, call Shutdown to release what was
// opened.
func (s *Server) Start(ctx context.Context) error {
	began := time.Now()
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := s.setupTLS(); err != nil {
		return err
	}
	if err := s.setupAuth(); err != nil {
		return err
	}

	// The Alertmanagers (rules.go), before the tenants, whose rules send to them.
	if err := s.newAlerting(); err != nil {
		return err
	}
	// The backend (backend.go): the embedded stores in data_dir, or ClickHouse.
	st, err := s.openStores(ctx)
	if err != nil {
		return err
	}
	metrics := st.metrics
	s.registerDiskGauge(st.sizer)

	pipeCfg := pipeline.DefaultConfig()
	pipeCfg.Limits.MaxAttributes = s.cfg.Limits.MaxAttributesPerItem
	pipeCfg.Limits.MaxAttributeValueLength = s.cfg.Limits.MaxAttributeValueBytes
	pipeCfg.QueueItems = s.cfg.Limits.QueueItems
	ingestWindow(&pipeCfg.Limits, s.cfg) // limits.max_future, max_age, max_log_streams
	// This server's tenant's ingest_rate and max_bytes_per_day (tenants.limits, with its
	// override): the default tenant's, or a headless server's own (tenantConfig).
	pipeCfg.Tenant = tenant.NewLimiter(s.cfg.Tenants.Default, s.cfg.Tenants.LimitsFor(s.cfg.Tenants.Default), time.Now)
	// One scrubber (the scrub section) for logs and spans, which carry job runs too, and
	// for error events from every source.
	scrubber, err := s.cfg.Scrub.Scrubber(s.reg)
	if err != nil {
		return fmt.Errorf("scrub rules: %w", err)
	}
	pipeCfg.Scrub = scrubber
	// The tap records batch-job runs (internal/runs) from the logs and spans carrying them.
	// The derived writers (internal/derived) put the run and new-issue series that rules
	// alert on into the metrics store as runs end and issues are created.
	runWriter := derived.NewRuns(st.runs, st.runs, metrics, derived.RunsOptions{}, s.logger.With("component", "derived"), s.reg)
	tap := runs.NewTap(runWriter, st.logs, st.spans, s.logger.With("component", "runs"), s.reg)
	// The exception tap records the exceptions of OpenTelemetry logs and spans as error
	// events (internal/errtrack/otelexc) before they go on to the runs tap and the store.
	// One recorder files the error events of every source (this tap, the Sentry ingest), as
	// it keeps the loupe_error_events_total counts.
	errWriter := derived.NewErrors(st.errors, st.errors, metrics, derived.ErrorsOptions{}, s.logger.With("component", "derived"), s.reg)
	errRec, err := errtrack.NewRecorder(errWriter, errtrack.RecorderOptions{
		Metrics: metrics,
		Scrub: errtrack.ScrubOptions{Disabled: !s.cfg.Errors.Scrubbing, ExtraKeys: s.cfg.Errors.ScrubKeys,
			KeepClientIP: s.cfg.Errors.KeepClientIP, Rules: scrubber},
	}, s.logger.With("component", "errtrack"), s.reg)
	if err != nil {
		return fmt.Errorf("error recorder: %w", err)
	}
	excTap := otelexc.NewTap(errRec, tap, tap, s.logger.With("component", "otelexc"), s.reg)
	pipe := pipeline.New(pipeCfg, pipeline.Writers{Logs: excTap, Spans: excTap, Metrics: metrics}, s.logger.With("component", "pipeline"), s.reg)
	if err := s.start(ctx, pipe); err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	s.pipe = pipe
	var consumer pipeline.Consumer = pipe
	if s.cfg.Tenants.Enabled && s.parent == nil {
		// Before the listeners, so that the tenants' servers stop after them.
		s.tenants = newTenantSet(s)
		if err := s.start(ctx, s.tenants); err != nil {
			return err
		}
		consumer = tenantConsumer{s: s, def: pipe}
	}

	// Scrapes and StatsD flushes share limits.queue_items with OTLP metrics and remote
	// write: they wait (bounded) for room, as they cannot be retried by a client.
	scrapeOpts := promscrape.DefaultOptions()
	scrapeOpts.Admission = pipe
	s.scraper, err = promscrape.New(s.cfg.Scrape, metrics, scrapeOpts, s.logger.With("component", "scrape"), s.reg)
	if err != nil {
		return fmt.Errorf("scrape manager: %w", err)
	}
	if err := s.startOnce(ctx, onceScrape, s.scraper); err != nil {
		return fmt.Errorf("start scraping: %w", err)
	}
	// Profiles pulled from /debug/pprof endpoints (profiling section) into the event store.
	profOpts := pprofscrape.DefaultOptions()
	profOpts.LabelLimits = s.labelLimits()
	s.profiles, err = pprofscrape.New(s.cfg.Profiling, st.profiles, profOpts, s.logger.With("component", "profiling"), s.reg)
	if err != nil {
		return fmt.Errorf("profile scraper: %w", err)
	}
	if err := s.startOnce(ctx, onceProfiling, s.profiles); err != nil {
		return fmt.Errorf("start profile scraping: %w", err)
	}
	statsdCfg := s.cfg.Statsd
	statsdCfg.LabelLimits = s.labelLimits()
	statsdCfg.Admission = pipe
	statsdCfg.TLS = s.statsdTLS() // statsd.tcp_tls (tls.go)
	statsdRecv, err := statsd.New(statsdCfg, metrics, pipe, s.logger.With("component", "statsd"), s.reg)
	if err != nil {
		return fmt.Errorf("statsd receiver: %w", err)
	}
	if err := s.start(ctx, statsdRecv); err != nil {
		return fmt.Errorf("start statsd receiver: %w", err)
	}

	recvCfg := otlp.DefaultConfig()
	recvCfg.GRPCAddr = s.cfg.Listen.OTLPGRPC
	recvCfg.HTTPAddr = s.cfg.Listen.OTLPHTTP
	recvCfg.MaxRequestBytes = int64(s.cfg.Limits.MaxRequestBytes)
	recvCfg.ReadHeaderTimeout = time.Duration(s.cfg.Limits.HTTPReadHeaderTimeout)
	recvCfg.ReadTimeout = time.Duration(s.cfg.Limits.HTTPBodyTimeout)
	recvCfg.IdleTimeout = time.Duration(s.cfg.Limits.HTTPIdleTimeout)
	recvCfg.TLS = s.tls.otlp
	recvCfg.WrapHTTP = func(h http.Handler) http.Handler {
		return browserGuard(s.auth.HTTP(s.tenantIngestHTTP(h), auth.Only(auth.ScopeIngest)), s.cfg.Listen.OTLPHTTP, s.cfg.Listen.AllowedHosts)
	}
	// Authentication first, then the tenant, which may be the token's.
	recvCfg.GRPCOptions = append(s.auth.GRPCServerOptions(auth.ScopeIngest), s.tenantGRPCOptions()...)
	s.receiver = otlp.New(recvCfg, consumer, s.logger.With("component", "otlp"), s.reg)
	if err := s.start(ctx, s.receiver); err != nil {
		return fmt.Errorf("start otlp receivers: %w", err)
	}

	mux, err := s.routes(st, pipe, statsdRecv, errRec, runWriter)
	if err != nil {
		return err
	}
	if s.am != nil { // already in s.started, before the rules, so that it stops after them
		if err := s.am.Start(ctx); err != nil {
			return fmt.Errorf("start alertmanager: %w", err)
		}
	}
	if s.ext != nil { // as s.am
		if err := s.ext.Start(ctx); err != nil {
			return fmt.Errorf("start external alertmanagers sender: %w", err)
		}
	}
	if err := s.startOnce(ctx, onceRules, s.rules); err != nil {
		return fmt.Errorf("start rules: %w", err)
	}

	if s.parent != nil {
		s.handler = mux // served by the parent's listener (tenants.go)
	} else if err := s.start(ctx, s.newHTTPServer(mux)); err != nil {
		return err
	}

	retention := &retentionLoop{
		store: st.retainer,
		keep: map[store.Signal]time.Duration{
			store.SignalLogs:     time.Duration(s.cfg.Retention.Logs),
			store.SignalSpans:    time.Duration(s.cfg.Retention.Spans),
			store.SignalRuns:     time.Duration(s.cfg.Retention.Spans), // as long as the run spans
			store.SignalErrors:   time.Duration(s.cfg.Retention.Errors),
			store.SignalProfiles: time.Duration(s.cfg.Retention.Profiles),
		},
		interval: 10 * time.Minute,
		now:      time.Now,
		logger:   s.logger.With("component", "retention"),
	}
	if err := s.startOnce(ctx, onceRetention, retention); err != nil {
		return err
	}
	s.logLeadership()

	s.logger.Info("ready",
		"http", s.HTTPAddr(), "otlp_grpc", s.receiver.GRPCAddr(), "otlp_http", s.receiver.HTTPAddr(),
		"statsd_udp", addrString(statsdRecv.UDPAddr()), "statsd_tcp", addrString(statsdRecv.TCPAddr()),
		"data_dir", s.cfg.DataDir, "version", version.Get().Version, "startup", time.Since(began).Round(time.Millisecond).String())
	if s.parent != nil {
		return nil // the footprint keeper is the process's, the parent's
	}
	// Hands back the memory start-up touched, and keeps idle work from mapping it back
	// (footprint.go).
	return s.start(ctx, newFootprintKeeper(s.logger))
}

// Shutdown stops every started part in reverse order, going on past failures, and returns
// them joined. Receivers stop first so nothing new is accepted; the pipeline then drains what
// it acknowledged into the stores before they close.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(s.started) - 1; i >= 0; i-- {
		if err := s.started[i].Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.started = nil
	return errors.Join(errs...)
}

// HTTPAddr is the bound address of the query API listener ("" before Start).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

func (s *Server) add(c component) { s.started = append(s.started, c) }

func (s *Server) start(ctx context.Context, c component) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	s.add(c)
	return nil
}

// addrString is a bound address, or "" for a listener that is turned off.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
