package pprofscrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"

	// Service discovery mechanisms available besides static_configs, as for metrics.
	_ "github.com/prometheus/prometheus/discovery/file"
)

// Options tune the scraper. Start from DefaultOptions.
type Options struct {
	// DiscoveryUpdateInterval is how often discovered target changes are applied.
	DiscoveryUpdateInterval time.Duration
	// MaxProfileBytes bounds one response body as sent.
	MaxProfileBytes int64
	Limits          pprofconv.Limits
	LabelLimits     labellimit.Limits
	// WriteTimeout bounds one store write.
	WriteTimeout time.Duration
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{DiscoveryUpdateInterval: 5 * time.Second, MaxProfileBytes: 16 << 20,
		Limits: pprofconv.DefaultLimits(), LabelLimits: labellimit.Default(), WriteTimeout: 30 * time.Second}
}

// Scraper runs one loop per target and profile type. Start once, Shutdown once.
type Scraper struct {
	jobs   map[string]job
	w      store.ProfileWriter
	opts   Options
	logger *slog.Logger
	reg    prometheus.Registerer

	mu        sync.Mutex
	loops     map[string]context.CancelFunc // by job, target labels and kind
	targets   map[string]targetState        // by the same keys, for Targets
	ctx       context.Context               // the loops' parent, set by Start
	discovery *discovery.Manager            // nil before Start
	groups    map[string][]*targetgroup.Group
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	scrapes   *prometheus.CounterVec
}

// New validates cfg and returns a scraper writing to w. A nil logger discards logs; reg
// may be nil.
func New(cfg Config, w store.ProfileWriter, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Scraper, error) {
	jobs, err := cfg.jobs()
	if err != nil {
		return nil, fmt.Errorf("profiling: %w", err)
	}
	if w == nil {
		return nil, errors.New("profiling scraper: nil writer")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DiscoveryUpdateInterval <= 0 {
		opts.DiscoveryUpdateInterval = DefaultOptions().DiscoveryUpdateInterval
	}
	s := &Scraper{jobs: map[string]job{}, w: w, opts: opts, logger: logger, reg: reg, loops: map[string]context.CancelFunc{}, targets: map[string]targetState{}}
	for _, j := range jobs {
		s.jobs[j.scrape.JobName] = j
	}
	s.scrapes = selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loupe_profile_scrapes_total",
		Help: "Profile scrapes of /debug/pprof endpoints by job, profile type and result (ok, error).",
	}, []string{"job", "type", "result"}))
	return s, nil
}

// Start starts service discovery and the scrape loops; it returns at once.
func (s *Scraper) Start(_ context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// Prometheus' discovery metrics are registered once per registry; the metric
	// scraper has registered them already, so these get a prefix of their own.
	reg := prometheus.NewRegistry()
	var registerer prometheus.Registerer = reg
	if s.reg != nil {
		registerer = prometheus.WrapRegistererWithPrefix("loupe_profiles_", s.reg)
	}
	refresh := discovery.NewRefreshMetrics(registerer)
	sdMetrics, err := discovery.RegisterSDMetrics(registerer, refresh)
	if err != nil {
		cancel()
		return fmt.Errorf("profiling: register service discovery metrics: %w", err)
	}
	dm := discovery.NewManager(ctx, s.logger.With("component", "profiling-discovery"), registerer, sdMetrics,
		discovery.Name("profiles"), discovery.Updatert(s.opts.DiscoveryUpdateInterval))
	if dm == nil {
		cancel()
		return errors.New("profiling: discovery manager could not be created")
	}
	s.mu.Lock()
	s.ctx, s.discovery = ctx, dm
	sd := s.discoveryConfigs()
	s.mu.Unlock()
	if err := dm.ApplyConfig(sd); err != nil {
		cancel()
		return fmt.Errorf("profiling: service discovery: %w", err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = dm.Run() }()
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case groups := <-dm.SyncCh():
				s.mu.Lock()
				s.groups = groups
				s.syncLocked(ctx, groups)
				s.mu.Unlock()
			}
		}
	}()
	return nil
}

// Shutdown stops every loop and waits for them.
func (s *Scraper) Shutdown(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("profiling scraper: %w", ctx.Err())
	}
}

// ApplyConfig replaces the jobs: the loops of jobs that changed or are gone stop, those of
// unchanged jobs go on (keeping the previous heap, mutex and block profiles they subtract),
// and new or changed jobs start on the targets discovery gives them. An invalid cfg is
// refused and the running jobs kept.
func (s *Scraper) ApplyConfig(cfg Config) error {
	jobs, err := cfg.jobs()
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	next := map[string]job{}
	for _, j := range jobs {
		next[j.scrape.JobName] = j
	}
	s.mu.Lock()
	for name, old := range s.jobs {
		if nj, ok := next[name]; !ok || !reflect.DeepEqual(old, nj) {
			prefix := name + "\xff"
			for key, cancel := range s.loops {
				if strings.HasPrefix(key, prefix) {
					cancel()
					delete(s.loops, key)
					delete(s.targets, key)
				}
			}
		}
	}
	s.jobs = next
	dm, sd := s.discovery, s.discoveryConfigs()
	if dm != nil && s.groups != nil {
		s.syncLocked(s.ctx, s.groups) // changed jobs whose targets discovery will not resend
	}
	s.mu.Unlock()
	if dm == nil {
		return nil
	}
	if err := dm.ApplyConfig(sd); err != nil {
		return fmt.Errorf("profiling: service discovery: %w", err)
	}
	return nil
}

// discoveryConfigs are the jobs' service discovery configs; s.mu is held.
func (s *Scraper) discoveryConfigs() map[string]discovery.Configs {
	sd := map[string]discovery.Configs{}
	for name, j := range s.jobs {
		sd[name] = j.scrape.ServiceDiscoveryConfigs
	}
	return sd
}

// syncLocked starts loops for new targets and stops those of targets that are gone; s.mu
// is held.
func (s *Scraper) syncLocked(ctx context.Context, groups map[string][]*targetgroup.Group) {
	want := map[string]bool{}
	lb := labels.NewBuilder(labels.EmptyLabels())
	for name, tgs := range groups {
		j, ok := s.jobs[name]
		if !ok {
			continue
		}
		for _, tg := range tgs {
			targets, failures := scrape.TargetsFromGroup(tg, j.scrape, nil, lb)
			for _, err := range failures {
				s.logger.Warn("profiling target dropped", "job", name, "err", err)
			}
			for _, t := range targets {
				for _, k := range j.kinds {
					key := name + "\xff" + t.Labels(lb).String() + "\xff" + string(k)
					want[key] = true
					if _, running := s.loops[key]; running {
						continue
					}
					lctx, cancel := context.WithCancel(ctx)
					s.loops[key] = cancel
					l, err := s.newLoop(j, t, k)
					if err != nil {
						s.logger.Warn("profiling target not scraped", "job", name, "target", t.URL().Host, "err", err)
						st := &loopStatus{err: err}
						s.targets[key] = targetState{desc: Target{Job: name, URL: t.URL().String(), Type: string(k), Labels: map[string]string{}}, status: st}
						continue
					}
					s.targets[key] = targetState{desc: Target{Job: name, URL: l.url, Type: string(k), Labels: maps.Clone(l.labels)}, status: &l.status}
					s.wg.Add(1)
					go func() { defer s.wg.Done(); l.run(lctx) }()
				}
			}
		}
	}
	for key, cancel := range s.loops {
		if !want[key] {
			cancel()
			delete(s.loops, key)
			delete(s.targets, key)
		}
	}
}

// loop scrapes one profile type of one target.
type loop struct {
	s        *Scraper
	job      job
	kind     pprofconv.Kind
	url      string
	labels   map[string]string
	client   *http.Client
	prev     *profile.Profile // the last profile, for the cumulative types
	prevAt   time.Time        // when prev was fetched
	interval time.Duration
	timeout  time.Duration
	status   loopStatus
}

func (s *Scraper) newLoop(j job, t *scrape.Target, k pprofconv.Kind) (*loop, error) {
	client, err := config_util.NewClientFromConfig(j.scrape.HTTPClientConfig, j.scrape.JobName)
	if err != nil {
		return nil, err
	}
	u := t.URL()
	u.Path = endpoint(k)
	q := url.Values{}
	if k == pprofconv.KindCPU {
		q.Set("seconds", strconv.Itoa(j.cpuSeconds))
	}
	u.RawQuery = q.Encode()
	ls := map[string]string{}
	t.LabelsRange(func(l labels.Label) { ls[l.Name] = l.Value })
	if ls[pprofconv.ServiceLabel] == "" {
		ls[pprofconv.ServiceLabel] = j.scrape.JobName
	}
	return &loop{s: s, job: j, kind: k, url: u.String(), labels: ls, client: client,
		interval: time.Duration(j.scrape.ScrapeInterval), timeout: time.Duration(j.scrape.ScrapeTimeout)}, nil
}

func (l *loop) run(ctx context.Context) {
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		start := time.Now()
		err := l.scrapeOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		l.status.record(start, err)
		result := "ok"
		if err != nil {
			result = "error"
			l.s.logger.Warn("profile scrape failed", "job", l.job.scrape.JobName, "url", l.url, "err", err)
		}
		l.s.scrapes.WithLabelValues(l.job.scrape.JobName, string(l.kind), result).Inc()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (l *loop) scrapeOnce(ctx context.Context) error {
	start := time.Now()
	timeout := l.timeout
	if l.kind == pprofconv.KindCPU {
		// The CPU profile takes cpuSeconds before it answers.
		timeout = max(timeout, time.Duration(l.job.cpuSeconds)*time.Second+5*time.Second)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, l.url, nil)
	if err != nil {
		return err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, l.s.opts.MaxProfileBytes+1))
	if err != nil {
		return fmt.Errorf("read profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, strings.TrimSpace(string(body)))
	}
	if int64(len(body)) > l.s.opts.MaxProfileBytes {
		return fmt.Errorf("profile larger than %d bytes", l.s.opts.MaxProfileBytes)
	}
	p, err := pprofconv.Parse(body, l.s.opts.Limits)
	if err != nil {
		return err
	}
	o := pprofconv.Options{Labels: l.labels, Kind: l.kind, Time: start, SkipCumulativeWithoutPrevious: true,
		Limits: l.s.opts.Limits, LabelLimits: l.s.opts.LabelLimits}
	switch {
	case l.kind == pprofconv.KindCPU:
		o.Duration = time.Duration(l.job.cpuSeconds) * time.Second
	case l.prev != nil:
		// The differences to the previous scrape cover the time since it (the profile's
		// own time, the scrape's, stays its time: Go writes no duration for these).
		o.Duration = start.Sub(l.prevAt)
	}
	ps, err := pprofconv.Convert(p, l.prev, o)
	if err != nil {
		return err
	}
	if l.kind != pprofconv.KindCPU && l.kind != pprofconv.KindGoroutine {
		l.prev, l.prevAt = p, start // heap, mutex and block count since the program started
	}
	if len(ps) == 0 {
		return nil
	}
	wctx, wcancel := context.WithTimeout(ctx, l.s.opts.WriteTimeout)
	defer wcancel()
	if err := l.s.w.WriteProfiles(wctx, ps); err != nil {
		return fmt.Errorf("store profiles: %w", err)
	}
	return nil
}
