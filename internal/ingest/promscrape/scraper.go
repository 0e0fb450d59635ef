// Package promscrape pulls metrics from Prometheus targets into the metric store, with
// Prometheus' own scrape and service discovery managers.
package promscrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/pipeline"

	// Service discovery mechanisms available in scrape configs besides static_configs.
	_ "github.com/prometheus/prometheus/discovery/file"
)

// Options tune the managers. Start from DefaultOptions.
type Options struct {
	// DiscoveryUpdateInterval is how often discovered target changes are handed to the
	// scrape manager, and TargetSyncInterval how often the scrape manager applies them
	// (Prometheus uses 5s for both; tests use less).
	DiscoveryUpdateInterval time.Duration
	TargetSyncInterval      time.Duration
	// NativeHistograms ingests native histograms from targets that expose them
	// (Prometheus' native-histograms feature flag).
	NativeHistograms bool
	// Admission, when set, gives each scrape its room in the metric ingest budget shared
	// with OTLP metrics and remote write (limits.queue_items). A scrape waits for room at
	// most AdmissionWait; without it the scrape fails (up 0, the error on its target) and
	// is counted in loupe_ingest_throttled_total{path="scrape"}.
	Admission     Admission
	AdmissionWait time.Duration
}

// Admission wraps the metric store so that appends take room from the metric ingest
// budget, waiting at most maxWait (pipeline.Pipeline.AdmittedAppendable).
type Admission interface {
	AdmittedAppendable(app storage.Appendable, path string, maxWait time.Duration) storage.Appendable
}

// DefaultOptions returns Prometheus' defaults.
func DefaultOptions() Options {
	return Options{
		DiscoveryUpdateInterval: 5 * time.Second,
		TargetSyncInterval:      5 * time.Second,
		AdmissionWait:           5 * time.Second,
	}
}

// Validate reports the first problem with the options, naming the field.
func (o Options) Validate() error {
	switch {
	case o.DiscoveryUpdateInterval <= 0:
		return fmt.Errorf("discovery update interval must be positive, got %s", o.DiscoveryUpdateInterval)
	case o.TargetSyncInterval <= 0:
		return fmt.Errorf("target sync interval must be positive, got %s", o.TargetSyncInterval)
	case o.Admission != nil && o.AdmissionWait <= 0:
		return fmt.Errorf("admission wait must be positive, got %s", o.AdmissionWait)
	}
	return nil
}

// Scraper runs scrape configs against targets and appends what it scrapes, plus the
// synthetic series (up, scrape_duration_seconds, scrape_samples_scraped, ...), to a
// storage.Appendable. All methods are safe for concurrent use.
type Scraper struct {
	opts   Options
	logger *slog.Logger
	reg    prometheus.Registerer

	scrape    *scrape.Manager
	sdMetrics map[string]discovery.DiscovererMetrics
	refresh   discovery.RefreshMetricsManager

	mu        sync.Mutex
	cfg       *promconfig.Config
	discovery *discovery.Manager // nil before Start
	cancel    context.CancelFunc
	started   bool
	stopped   bool
	done      sync.WaitGroup
}

// New validates cfg and builds a Scraper appending to app. Nothing runs before Start. reg
// receives Prometheus' prometheus_target_* and prometheus_sd_* metrics; it may be nil.
func New(cfg Config, app storage.Appendable, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Scraper, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("scraper options: %w", err)
	}
	if app == nil {
		return nil, errors.New("scraper: nil appendable")
	}
	pc, err := cfg.Prometheus()
	if err != nil {
		return nil, err
	}
	if opts.Admission != nil {
		app = opts.Admission.AdmittedAppendable(app, pipeline.PathScrape, opts.AdmissionWait)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		// Prometheus' managers register unconditionally; give them a private registry.
		reg = prometheus.NewRegistry()
	}
	refresh := discovery.NewRefreshMetrics(reg)
	sdMetrics, err := discovery.RegisterSDMetrics(reg, refresh)
	if err != nil {
		return nil, fmt.Errorf("register service discovery metrics: %w", err)
	}
	sm, err := scrape.NewManager(&scrape.Options{
		DiscoveryReloadInterval:         model.Duration(opts.TargetSyncInterval),
		EnableNativeHistogramsIngestion: opts.NativeHistograms,
	}, logger.With("component", "scrape"), nil, app, reg)
	if err != nil {
		unregisterSDMetrics(sdMetrics, refresh)
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	return &Scraper{
		opts: opts, logger: logger, reg: reg,
		scrape: sm, sdMetrics: sdMetrics, refresh: refresh,
		cfg: pc,
	}, nil
}

// Start starts service discovery and scraping with the configuration given to New (or the
// latest ApplyConfig). It returns at once.
func (s *Scraper) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("start scraper: already started")
	}
	// Discovery outlives the Start ctx; only Shutdown cancels it.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	dm := discovery.NewManager(runCtx, s.logger.With("component", "discovery"), s.reg, s.sdMetrics,
		discovery.Name("scrape"), discovery.Updatert(s.opts.DiscoveryUpdateInterval))
	if dm == nil {
		cancel()
		return errors.New("start scraper: discovery manager metrics could not be registered")
	}
	if err := s.apply(s.scrape, dm, s.cfg); err != nil {
		cancel()
		dm.UnregisterMetrics()
		return fmt.Errorf("start scraper: %w", err)
	}
	s.discovery, s.cancel, s.started = dm, cancel, true
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		// Run returns ctx's error when Shutdown cancels it.
		if err := dm.Run(); err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("discovery stopped", "err", err)
		}
	}()
	go func() {
		defer s.done.Done()
		if err := s.scrape.Run(dm.SyncCh()); err != nil {
			s.logger.Error("scrape manager stopped", "err", err)
		}
	}()
	return nil
}

// ApplyConfig validates cfg and, when it is valid, replaces the running configuration:
// changed scrape pools restart, removed ones stop, unchanged ones keep their state. Call
// it on SIGHUP and from POST /-/reload. A bad configuration is refused and the running one
// kept.
func (s *Scraper) ApplyConfig(cfg Config) error {
	pc, err := cfg.Prometheus()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("apply scrape config: scraper is shut down")
	}
	if s.started {
		if err := s.apply(s.scrape, s.discovery, pc); err != nil {
			return fmt.Errorf("apply scrape config: %w", err)
		}
	}
	s.cfg = pc
	return nil
}

// apply hands pc to both managers, in the order Prometheus' reload uses.
func (s *Scraper) apply(sm *scrape.Manager, dm *discovery.Manager, pc *promconfig.Config) error {
	if err := sm.ApplyConfig(pc); err != nil {
		return err
	}
	scfgs, err := pc.GetScrapeConfigs()
	if err != nil {
		return err
	}
	sd := make(map[string]discovery.Configs, len(scfgs))
	for _, c := range scfgs {
		sd[c.JobName] = c.ServiceDiscoveryConfigs
	}
	return dm.ApplyConfig(sd)
}

// Shutdown stops discovery and every scrape loop and waits for them. A scrape in flight
// is cancelled; what it had appended is rolled back. Safe without Start and safe twice.
func (s *Scraper) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	started := s.started
	if started {
		s.cancel()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		// Stop waits for every scrape loop to finish its current scrape.
		s.scrape.Stop()
		s.done.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shut down scraper: %w", ctx.Err())
	}
	s.scrape.UnregisterMetrics()
	if started {
		s.discovery.UnregisterMetrics()
	}
	unregisterSDMetrics(s.sdMetrics, s.refresh)
	return nil
}

func unregisterSDMetrics(sd map[string]discovery.DiscovererMetrics, refresh discovery.RefreshMetricsManager) {
	for _, m := range sd {
		m.Unregister()
	}
	refresh.Unregister()
}

// Targets returns the active and dropped targets for /api/v1/targets. The function has
// the type of prom.Options.Targets. The retriever also lists the scrape pools and gives
// the running configuration (status.go), for /api/v1/scrape_pools and /status/config.
func (s *Scraper) Targets(context.Context) v1.TargetRetriever {
	return retriever{s.scrape, s}
}

// ScrapePools returns the names of the scrape pools, for /api/v1/scrape_pools.
func (s *Scraper) ScrapePools(context.Context) v1.ScrapePoolsRetriever {
	return s.scrape
}

// Metadata returns the type, help and unit of every metric family the active targets
// expose, by family name, for /api/v1/metadata (it has the shape of prom.MetadataSource).
// When targets disagree, one of them wins.
func (s *Scraper) Metadata() map[string]metadata.Metadata {
	out := map[string]metadata.Metadata{}
	for _, targets := range s.scrape.TargetsActive() {
		for _, t := range targets {
			for _, m := range t.ListMetadata() {
				out[m.MetricFamily] = metadata.Metadata{Type: m.Type, Help: m.Help, Unit: m.Unit}
			}
		}
	}
	return out
}
