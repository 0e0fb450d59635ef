package server

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loupe-dev/loupe/internal/alerting"
	dashapi "github.com/loupe-dev/loupe/internal/api/dashboards"
	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/api/native"
	"github.com/loupe-dev/loupe/internal/api/profiles"
	"github.com/loupe-dev/loupe/internal/api/prom"
	pyroapi "github.com/loupe-dev/loupe/internal/api/pyroscope"
	"github.com/loupe-dev/loupe/internal/api/tempo"
	"github.com/loupe-dev/loupe/internal/api/tempo/jaeger"
	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/ingest/loki"
	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/ingest/pyroscope"
	"github.com/loupe-dev/loupe/internal/ingest/statsd"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/version"
	"github.com/loupe-dev/loupe/ui"
)

// routes builds the handler of the HTTP port: every query API, the HTTP ingest paths that
// are not OTLP (remote write, Loki push), Loupe's own endpoints and the UI. The Prometheus
// API's engine is registered for closing with the other parts.
func (s *Server) routes(st *stores, pipe *pipeline.Pipeline, statsdRecv *statsd.Receiver, errRec *errtrack.Recorder, runWriter runs.Writer) (http.Handler, error) {
	promOpts := prom.DefaultOptions()
	promOpts.Targets = s.scraper.Targets
	promOpts.Metadata = mergedMetadata{s.scraper, statsdRecv}
	if md, ok := st.metrics.(prom.MetadataSource); ok { // OTLP metadata (the embedded TSDB keeps it)
		promOpts.Metadata = mergedMetadata{md, s.scraper, statsdRecv}
	}
	promOpts.Version = version.Get().Version
	promOpts.Revision = version.Get().Revision
	promOpts.Retention = time.Duration(s.cfg.Retention.Metrics)
	promOpts.MaxWriteBytes = int64(s.cfg.Limits.MaxRequestBytes)
	promOpts.WriteLimits = s.labelLimits()
	// Remote write shares limits.queue_items with OTLP metrics (503 + Retry-After when full).
	promOpts.WriteAdmitter = pipe
	qb := s.newQueryBounds() // every read API below shares its limits (querylimit.go)
	qb.promOptions(&promOpts, s.cfg.Query)
	promOpts.Rules = s.rulesRetriever
	promOpts.Alertmanagers = s.alertmanagers
	promAPI, err := prom.New(st.metrics, promOpts, s.logger, s.reg)
	if err != nil {
		return nil, fmt.Errorf("prometheus api: %w", err)
	}
	s.add(closer{promAPI.Close})
	if s.rules, err = s.newRules(promAPI.Engine(), st.metrics, st.logQL); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", qb.prom(promAPI))
	for pattern, why := range st.unsupported { // backend.go
		mux.Handle(pattern, notSupported(why))
	}
	// Prometheus' OTLP path is served by the OTLP receiver itself, so that it shares its
	// decoder (with the nesting check), the pipeline's limits and its backpressure.
	mux.Handle(prom.Prefix+"/otlp/v1/metrics", http.StripPrefix(prom.Prefix+"/otlp", s.receiver.Handler()))
	nativeAPI := native.New(st.logs, st.spans, s.logger.With("component", "api")).WithRuns(st.runs).WithIssues(st.errors).
		WithListeners(func() native.Listeners {
			if s.parent != nil { // a tenant's: reached by its parent's ports, but for StatsD (the default tenant's)
				return native.Listeners{HTTP: s.parent.HTTPAddr(), OTLPGRPC: s.parent.receiver.GRPCAddr(), OTLPHTTP: s.parent.receiver.HTTPAddr()}
			}
			return native.Listeners{HTTP: s.HTTPAddr(), OTLPGRPC: s.receiver.GRPCAddr(), OTLPHTTP: s.receiver.HTTPAddr(),
				StatsDUDP: addrString(statsdRecv.UDPAddr()), StatsDTCP: addrString(statsdRecv.TCPAddr())}
		})
	mux.Handle("/api/loupe/v1/", qb.read(nativeAPI))
	// Dashboards (issue 15): a more specific pattern than the native API's (dashboards.go).
	dashAPI, err := s.dashboardsAPI(st.dashboards)
	if err != nil {
		return nil, err
	}
	mux.Handle(dashapi.Prefix, dashAPI)
	mux.Handle(dashapi.Prefix+"/", dashAPI)
	// Profiles (issue 14): the native API (a more specific pattern than the one above) and
	// Pyroscope's query API for Grafana's Pyroscope data source, at the root like Pyroscope.
	profAPI := profiles.New(st.profiles, s.logger.With("component", "profiles")).WithTargets(s.profiles.Targets)
	mux.Handle(profiles.Prefix, qb.read(profAPI, profiles.ExprParams...))
	pyroPath, pyroQuerier := pyroapi.New(st.profiles, qb.expr, s.logger.With("component", "pyroscope-query"))
	mux.Handle(pyroPath, qb.read(pyroQuerier))
	tempoAPI := qb.read(tempo.New(st.spans, s.logger.With("component", "tempo")), "q")
	for _, p := range tempo.Paths() {
		mux.Handle(p, tempoAPI)
	}
	mux.Handle(jaeger.Prefix, qb.read(jaeger.New(st.spans, s.logger.With("component", "jaeger"))))
	lokiOpts := loki.DefaultOptions()
	lokiOpts.MaxRequestBytes = int64(s.cfg.Limits.MaxRequestBytes)
	lokiOpts.Labels = s.labelLimits()
	lokiPush := loki.NewPushHandler(pipe, lokiOpts, s.logger.With("component", "loki"), s.reg)
	mux.Handle(loki.Path, lokiPush)
	lokiQueryOpts := lokiapi.DefaultOptions()
	lokiOptions(&lokiQueryOpts, s.cfg.Query)
	mux.Handle(lokiapi.Prefix, qb.read(lokiapi.NewHandler(st.logQL, lokiQueryOpts, s.logger.With("component", "loki-query"), s.reg), "query"))
	mux.Handle("/api/prom/push", lokiPush) // promtail before Loki 2.0
	// Pyroscope's push API (pyroscope-go, Pyroscope agents) into the profile store.
	pyroOpts := pyroscope.DefaultOptions()
	pyroOpts.MaxRequestBytes = int64(s.cfg.Limits.MaxRequestBytes)
	pyroOpts.LabelLimits = s.labelLimits()
	pyroOpts.Tenant = pipe // the tenant's ingest_rate and max_bytes_per_day (tenants.limits)
	pyroIngest := pyroscope.NewHandler(st.profiles, pyroOpts, s.logger.With("component", "pyroscope"), s.reg)
	mux.Handle(pyroscope.Path, pyroIngest)
	mux.Handle(pyroIngest.PushHandler()) // push.v1.PusherService (Alloy's pyroscope.write)
	// Loki's ruler API (read-only) for the LogQL rules.
	lokiRules := lokiapi.NewRulesHandler(s.rules.LogQL())
	for _, p := range lokiapi.RulePaths {
		mux.Handle(p, lokiRules)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Loupe is Healthy.") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Loupe is Ready.") })
	if s.am != nil {
		mux.Handle(alerting.Prefix+"/api/v2/", s.am.Handler()) // amtool --alertmanager.url=http://HOST/alertmanager
	}
	mux.Handle(promscrape.ReloadPath, promscrape.ReloadHandler(s.Reload))
	// Go profiles, as Prometheus serves them (`go tool pprof http://localhost:7070/debug/pprof/profile`),
	// but to clients on this machine only.
	mux.Handle("GET /debug/pprof/", loopbackOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/cmdline", loopbackOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("GET /debug/pprof/profile", loopbackOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/symbol", loopbackOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("GET /debug/pprof/trace", loopbackOnly(http.HandlerFunc(pprof.Trace)))
	mux.Handle(auth.SessionPath, s.auth.SessionHandler()) // the UI's sign-in and sign-out (internal/auth)
	mux.Handle("/", ui.Handler())                         // the web UI: assets, and index.html for client routes

	// Sentry ingest (sentry.go): in front of the mux, as its paths overlap /api/v1/.
	h, err := s.withSentry(mux, st.runs, runWriter, pipe, errRec)
	if err != nil {
		return nil, err
	}
	if s.parent != nil {
		return h, nil // a tenant's: its parent's listener authenticates (tenants.go)
	}
	// Token authentication (auth.go) inside the guard, around everything but the probes
	// and the Sentry ingest, then the request's tenant (tenants.go).
	return browserGuard(s.auth.HTTP(s.tenantHTTP(h), classifyWithUI(mux)), s.cfg.Listen.HTTP, s.cfg.Listen.AllowedHosts), nil
}
