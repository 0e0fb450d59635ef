package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Tenants (tenants.enabled, docs/security.md#tenants). Each tenant other than the default
// one is a headless Server of its own: its stores in data_dir/tenants/ID, its pipeline,
// its read APIs, with no listeners. This server's listeners authenticate a request,
// resolve its tenant (resolveTenant) and hand it to that tenant's server: HTTP requests to
// its handler, OTLP data to its pipeline. So a query can only ever read one tenant's stores.
//
// Work configured for the server (scrape jobs, StatsD, rules and alerts, pprof scrapes)
// belongs to the default tenant; the other tenants have ingest, queries, the UI,
// dashboards, error tracking and job runs.

// tenantConfig is the configuration of tenant id's headless server.
func tenantConfig(cfg config.Config, id string) config.Config {
	c := cfg
	c.DataDir = cfg.TenantDataDir(id)
	c.Listen.HTTP, c.Listen.OTLPGRPC, c.Listen.OTLPHTTP = "", "", ""
	c.Listen.TLS = config.ListenConfig{}.TLS
	c.Statsd.UDPAddr, c.Statsd.TCPAddr, c.Statsd.TCPTLS = "", "", false
	c.Scrape.ScrapeConfigs, c.Scrape.ScrapeConfigFiles = yaml.Node{}, nil
	c.Profiling.ScrapeConfigs = yaml.Node{}
	// Its own rules, under tenants.rules_dir (their alerts go to the parent's Alertmanagers).
	c.Rules.Files, c.Rules.LogQLFiles = cfg.Tenants.TenantRuleGlobs(id)
	c.Alerting.AlertmanagerConfig, c.Alerting.Alertmanagers = "", nil
	// A tenant's Sentry projects are those of its keys file in its directory; the projects
	// of the configuration are the default tenant's.
	c.Sentry.Projects = nil
	if c.Sentry.KeysFile != "" {
		c.Sentry.KeysFile = filepath.Base(c.Sentry.KeysFile)
	}
	c.Auth = auth.Default()
	c.Auth.Enabled = "false" // the listeners' server authenticated the request
	c.Tenants = config.DefaultTenants()
	// Its only tenant is id, with id's limits (tenants.limits and its override), which its
	// pipeline and metric store enforce (server.go, backend.go).
	c.Tenants.Default, c.Tenants.Limits = id, cfg.Tenants.LimitsFor(id)
	return c
}

// tenantError is a request whose tenant cannot be served, with its HTTP and gRPC status.
type tenantError struct {
	httpCode int
	grpcCode codes.Code
	msg      string
}

func (e *tenantError) Error() string { return e.msg }

// resolveTenant returns the tenant a request acts for: the one its credentials are bound
// to (refusing a header naming another), else the one its X-Scope-OrgID header (header)
// names, else the default tenant. With tenants off it is always the default tenant.
func (s *Server) resolveTenant(ctx context.Context, header string) (string, error) {
	def := s.cfg.Tenants.Default
	if !s.cfg.Tenants.Enabled {
		return def, nil
	}
	if bound, ok := tenant.Bound(ctx); ok {
		if header != "" && header != bound {
			return "", &tenantError{http.StatusForbidden, codes.PermissionDenied,
				fmt.Sprintf("the token is bound to tenant %q and cannot act for tenant %q (%s)", bound, header, tenant.Header)}
		}
		return bound, nil
	}
	if header == "" {
		return def, nil
	}
	if err := tenant.Validate(header); err != nil {
		return "", &tenantError{http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("%s: %v", tenant.Header, err)}
	}
	return header, nil
}

// tenantSet opens the tenants' servers, at start for those with a data directory and
// then as their first request comes, and shuts them down with this server. It is a
// component started before the listeners, so that it stops after them.
type tenantSet struct {
	parent *Server
	mu     sync.Mutex
	open   map[string]*tenantEntry
	closed bool
	count  prometheus.Gauge
	// lastKeyScan is when bySentryKey last read the keys files of unopened tenants: at
	// most once a second, so that an SDK sending an unknown key costs no file reads.
	lastKeyScan time.Time
}

type tenantEntry struct {
	once sync.Once
	srv  *Server
	err  error
}

func newTenantSet(s *Server) *tenantSet {
	return &tenantSet{parent: s, open: map[string]*tenantEntry{},
		count: selfmetrics.Register(s.reg, s.logger, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_tenants_open",
			Help: "Tenants other than the default one whose stores are open (tenants.enabled).",
		}))}
}

// Start opens every tenant that has a data directory, so that their retention and
// background work run before their first request.
func (t *tenantSet) Start(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(t.parent.cfg.DataDir, "tenants"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tenants: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && tenant.Validate(e.Name()) == nil && e.Name() != t.parent.cfg.Tenants.Default {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := t.get(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// get returns tenant id's server, opening it on first use. Beyond tenants.max tenants it
// refuses with a tenantError.
func (t *tenantSet) get(ctx context.Context, id string) (*Server, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, &tenantError{http.StatusServiceUnavailable, codes.Unavailable, "shutting down"}
	}
	e, ok := t.open[id]
	if !ok {
		if len(t.open) >= t.parent.cfg.Tenants.Max {
			t.mu.Unlock()
			return nil, &tenantError{http.StatusForbidden, codes.PermissionDenied,
				fmt.Sprintf("tenant %q: this server already has tenants.max = %d tenants besides the default one", id, t.parent.cfg.Tenants.Max)}
		}
		e = &tenantEntry{}
		t.open[id] = e
	}
	t.mu.Unlock()
	e.once.Do(func() {
		srv := New(tenantConfig(t.parent.cfg, id), nil, t.parent.logger.With("tenant", id))
		srv.parent = t.parent
		// Not the request's cancellation: the tenant's server outlives the request that
		// opened it.
		if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
			_ = srv.Shutdown(context.Background())
			e.err = fmt.Errorf("open tenant %q: %w", id, err)
			t.mu.Lock()
			delete(t.open, id) // a later request tries again
			t.mu.Unlock()
			return
		}
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if closed { // Shutdown came while it opened: it did not see this server
			_ = srv.Shutdown(context.Background())
			e.err = &tenantError{http.StatusServiceUnavailable, codes.Unavailable, "shutting down"}
			return
		}
		e.srv = srv
		t.count.Inc()
	})
	return e.srv, e.err
}

// reloadRules reads the rule files of every open tenant again (Reload).
func (t *tenantSet) reloadRules(interval time.Duration) error {
	t.mu.Lock()
	var open []*Server
	for _, e := range t.open {
		if e.srv != nil {
			open = append(open, e.srv)
		}
	}
	t.mu.Unlock()
	var errs []error
	for _, srv := range open {
		if err := srv.rules.Load(srv.cfg.RuleFiles(), srv.cfg.LogQLRuleFiles(), interval); err != nil {
			errs = append(errs, fmt.Errorf("rules of tenant %q: %w", srv.cfg.Tenants.Default, err))
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops every tenant's server; later requests are refused.
func (t *tenantSet) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	open := t.open
	t.open = map[string]*tenantEntry{}
	t.mu.Unlock()
	var errs []error
	for _, e := range open {
		if e.srv != nil {
			errs = append(errs, e.srv.Shutdown(ctx))
			t.count.Dec()
		}
	}
	return errors.Join(errs...)
}

// tenantOf resolves r's tenant and returns its server, nil for the default tenant.
func (s *Server) tenantOf(ctx context.Context, header string) (string, *Server, error) {
	id, err := s.resolveTenant(ctx, header)
	if err != nil || id == s.cfg.Tenants.Default {
		return id, nil, err
	}
	srv, err := s.tenants.get(ctx, id)
	return id, srv, err
}

// tenantHTTP serves a request of the HTTP port with its tenant's handler: next for the
// default tenant, the tenant's own server's for the others.
func (s *Server) tenantHTTP(next http.Handler) http.Handler {
	if !s.cfg.Tenants.Enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if serverWide(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		header := r.Header.Get(tenant.Header)
		if header == "" {
			header = s.sentryKeyTenant(r)
		}
		id, srv, err := s.tenantOf(r.Context(), header)
		if err != nil {
			writeTenantError(w, err)
			return
		}
		r = r.WithContext(tenant.With(r.Context(), id))
		if srv == nil {
			next.ServeHTTP(w, r)
			return
		}
		srv.handler.ServeHTTP(w, r)
	})
}

// serverWide reports whether path is the server's whatever the tenant: the UI's sign-in
// (a tenant's server has no sessions), the probes, the configuration reload and the Go
// profiles of the process.
func serverWide(path string) bool {
	switch path {
	case auth.SessionPath, "/-/healthy", "/-/ready", promscrape.ReloadPath:
		return true
	}
	return strings.HasPrefix(path, "/debug/pprof/")
}

// tenantIngestHTTP resolves the tenant of an OTLP/HTTP request for tenantConsumer.
func (s *Server) tenantIngestHTTP(next http.Handler) http.Handler {
	if !s.cfg.Tenants.Enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, err := s.tenantOf(r.Context(), r.Header.Get(tenant.Header))
		if err != nil {
			writeTenantError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(tenant.With(r.Context(), id)))
	})
}

func writeTenantError(w http.ResponseWriter, err error) {
	var te *tenantError
	if errors.As(err, &te) {
		http.Error(w, te.msg, te.httpCode)
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// tenantGRPCOptions resolve the tenant of an OTLP/gRPC call (after authentication) from
// its token and its x-scope-orgid metadata, for tenantConsumer.
func (s *Server) tenantGRPCOptions() []grpc.ServerOption {
	if !s.cfg.Tenants.Enabled {
		return nil
	}
	resolve := func(ctx context.Context) (context.Context, error) {
		var header string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(tenant.Header); len(v) > 0 {
				header = v[0]
			}
		}
		id, _, err := s.tenantOf(ctx, header)
		if err != nil {
			var te *tenantError
			if errors.As(err, &te) {
				return ctx, status.Error(te.grpcCode, te.msg)
			}
			return ctx, status.Error(codes.Internal, err.Error())
		}
		return tenant.With(ctx, id), nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := resolve(ctx)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
	}
}

// tenantConsumer hands OTLP data to the pipeline of the tenant its context names
// (tenantIngestHTTP, tenantGRPCOptions): def for the default tenant or none.
type tenantConsumer struct {
	s   *Server
	def pipeline.Consumer
}

func (c tenantConsumer) pick(ctx context.Context) (pipeline.Consumer, error) {
	id, ok := tenant.From(ctx)
	if !ok || id == c.s.cfg.Tenants.Default {
		return c.def, nil
	}
	srv, err := c.s.tenants.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return srv.pipe, nil
}

func (c tenantConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	p, err := c.pick(ctx)
	if err != nil {
		return err
	}
	return p.ConsumeLogs(ctx, ld)
}

func (c tenantConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	p, err := c.pick(ctx)
	if err != nil {
		return err
	}
	return p.ConsumeTraces(ctx, td)
}

func (c tenantConsumer) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	p, err := c.pick(ctx)
	if err != nil {
		return err
	}
	return p.ConsumeMetrics(ctx, md)
}

// sentryKeyTenant is the tenant whose DSN key a Sentry SDK's request carries (in
// X-Sentry-Auth or sentry_key; `loupe sentry-dsn create --tenant ID` makes one), "" when it
// is not a Sentry ingest request or the key is the default tenant's or nobody's. SDKs
// send no X-Scope-OrgID: their DSN is their tenant.
func (s *Server) sentryKeyTenant(r *http.Request) string {
	if _, _, ok := sentry.IsIngestPath(r.URL.Path); !ok {
		return ""
	}
	key := sentry.RequestKey(r)
	if key == "" {
		return "" // perhaps in the envelope's header: the default tenant's then (docs/security.md)
	}
	if _, ok := s.sentryProjects.Lookup(key); ok {
		return ""
	}
	return s.tenants.bySentryKey(key)
}

// bySentryKey finds the tenant with DSN key key among the open tenants, then (at most once
// a second, as sentry.Projects rereads its file) in the keys files of the tenants not open
// yet: a key made for a new tenant while the server runs.
func (t *tenantSet) bySentryKey(key string) string {
	t.mu.Lock()
	open := make(map[string]*Server, len(t.open))
	for id, e := range t.open {
		open[id] = e.srv // nil while opening: looked up in its file below
	}
	now := time.Now()
	scan := now.Sub(t.lastKeyScan) >= time.Second
	if scan {
		t.lastKeyScan = now
	}
	t.mu.Unlock()
	for id, srv := range open {
		if srv != nil {
			if _, ok := srv.sentryProjects.Lookup(key); ok {
				return id
			}
		}
	}
	if !scan {
		return ""
	}
	cfg := t.parent.cfg
	entries, _ := os.ReadDir(filepath.Join(cfg.DataDir, "tenants"))
	for _, e := range entries {
		id := e.Name()
		if srv, ok := open[id]; (ok && srv != nil) || tenant.Validate(id) != nil {
			continue
		}
		path := cfg.SentryKeysPath(id)
		if path == "" {
			continue
		}
		ps, err := sentry.ReadKeysFile(path)
		if err != nil {
			continue
		}
		for _, p := range ps {
			if slices.Contains(p.Keys, key) {
				return id
			}
		}
	}
	return ""
}
