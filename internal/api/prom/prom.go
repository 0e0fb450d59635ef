// Package prom serves the Prometheus HTTP API (/api/v1/...) over Loupe's metric storage,
// with queries evaluated by the Prometheus PromQL engine.
//
// The endpoints are Prometheus' own (web/api/v1), so envelopes, parameters and errors are
// exactly Prometheus'. Loupe replaces only /api/v1/metadata (answered from the metadata of
// OTLP writes instead of scrape targets). /api/v1/otlp/v1/metrics is not served here: the
// server mounts its OTLP receiver on that path.
package prom

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/httputil"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/querylimit"
)

// Prefix is where the handler expects to be mounted: it routes on the full request path.
const Prefix = "/api/v1"

// Storage is what the API reads and writes. Implementations are safe for concurrent use.
type Storage interface {
	storage.SampleAndChunkQueryable // PromQL, series, labels, remote read
	storage.ExemplarQueryable       // query_exemplars
	storage.Appendable              // remote write
}

// MetadataSource is an optional capability of a Storage (or another source passed in
// Options): the type, help and unit of metric families, by family name.
type MetadataSource interface {
	Metadata() map[string]metadata.Metadata
}

// Options configure the API. Start from DefaultOptions.
type Options struct {
	// Version, Revision and BuildDate are reported by /api/v1/status/buildinfo.
	Version   string
	Revision  string
	BuildDate string

	// LookbackDelta is how far back an instant selector looks for a sample.
	LookbackDelta time.Duration
	// QueryTimeout bounds the evaluation of one query.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory at once.
	MaxSamples int
	// MaxConcurrentQueries bounds the queries evaluated at once; others wait.
	MaxConcurrentQueries int
	// QueryExpr bounds the length and nesting of PromQL parameters before they are
	// parsed (querylen.go); the zero value disables the check.
	QueryExpr querylimit.ExprLimits

	// RemoteWrite enables /api/v1/write (Prometheus remote write 1.0 and 2.0).
	RemoteWrite bool
	// OTLPWrite says whether the server serves /api/v1/otlp/v1/metrics, for
	// /api/v1/status/flags. The path is not served here: the server mounts its OTLP
	// receiver there, so that it shares that receiver's decoder, limits and backpressure.
	OTLPWrite bool
	// MaxWriteBytes limits a remote write body, both as sent and as its snappy header
	// declares it decoded (413 beyond).
	MaxWriteBytes int64
	// WriteLimits bound the labels of remote-written series (400 naming the series).
	WriteLimits labellimit.Limits
	// WriteAdmitter, when set, grants room for remote-written samples before they are
	// appended (the pipeline's metric budget); without room the answer is 503 with
	// Retry-After (write_admit.go).
	WriteAdmitter Admitter

	// Retention is shown by /api/v1/status/runtimeinfo and /api/v1/status/flags.
	Retention time.Duration
	// CORSOrigin is a regular expression of the origins allowed to read the API from a
	// browser; empty allows none (Grafana and Loupe's UI do not need CORS).
	CORSOrigin string

	// Metadata answers /api/v1/metadata; nil uses the Storage when it is a MetadataSource.
	Metadata MetadataSource
	// Targets, Rules and Alertmanagers feed /targets, /rules, /alerts and /alertmanagers
	// once scraping, rules and notifications exist; nil serves valid empty lists.
	Targets       func(context.Context) v1.TargetRetriever
	Rules         func(context.Context) v1.RulesRetriever
	Alertmanagers func(context.Context) v1.AlertmanagerRetriever
	// ScrapePools feeds /scrape_pools and Config /status/config; nil uses what Targets
	// returns when it has those capabilities (status.go), else none and Prometheus'
	// default configuration.
	ScrapePools func(context.Context) v1.ScrapePoolsRetriever
	Config      func() config.Config
	// ListenAddress is the HTTP listen address, for the globalUrl of targets on this
	// machine in /targets; empty shows them under the host name.
	ListenAddress string
	// MetadataRecorder keeps the metadata of remote-written series; nil uses the Storage
	// when it is a MetadataRecorder (write_metadata.go).
	MetadataRecorder MetadataRecorder
	// Gatherer is read by /api/v1/status/tsdb; nil uses the Registerer when it is a
	// Gatherer.
	Gatherer prometheus.Gatherer
}

// DefaultOptions returns Prometheus' defaults for the query limits.
func DefaultOptions() Options {
	return Options{
		Version:              "dev",
		LookbackDelta:        5 * time.Minute,
		QueryTimeout:         2 * time.Minute,
		MaxSamples:           50_000_000,
		MaxConcurrentQueries: 20,
		QueryExpr:            querylimit.DefaultExprLimits(),
		RemoteWrite:          true,
		OTLPWrite:            true,
		MaxWriteBytes:        16 << 20,
		WriteLimits:          labellimit.Default(),
		Retention:            7 * 24 * time.Hour,
	}
}

// Validate reports the first problem with the options, naming the field.
func (o Options) Validate() error {
	switch {
	case o.LookbackDelta <= 0:
		return fmt.Errorf("lookback delta must be positive, got %s", o.LookbackDelta)
	case o.QueryTimeout <= 0:
		return fmt.Errorf("query timeout must be positive, got %s", o.QueryTimeout)
	case o.MaxSamples <= 0:
		return fmt.Errorf("max samples must be positive, got %d", o.MaxSamples)
	case o.MaxConcurrentQueries <= 0:
		return fmt.Errorf("max concurrent queries must be positive, got %d", o.MaxConcurrentQueries)
	case o.RemoteWrite && o.MaxWriteBytes <= 0:
		return fmt.Errorf("max remote write bytes must be positive, got %d", o.MaxWriteBytes)
	}
	if _, err := regexp.Compile(o.CORSOrigin); err != nil {
		return fmt.Errorf("CORS origin %q: %w", o.CORSOrigin, err)
	}
	return nil
}

// API is the Prometheus HTTP API as an http.Handler for paths under Prefix.
type API struct {
	engine *promql.Engine
	mux    *http.ServeMux
}

// New builds the API over st. reg receives the engine's prometheus_engine_* metrics, the
// remote read/write handlers' metrics and Loupe's loupe_prom_api_* metrics; it may be nil.
// Mount the result at Prefix+"/" on the server's mux.
func New(st Storage, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*API, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus API options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		// The Prometheus handlers register unconditionally; give them a private registry.
		reg = prometheus.NewRegistry()
	}
	gatherer := opts.Gatherer
	if gatherer == nil {
		if g, ok := reg.(prometheus.Gatherer); ok {
			gatherer = g
		} else {
			gatherer = prometheus.NewRegistry()
		}
	}
	cors, err := regexp.Compile("^(?:" + opts.CORSOrigin + ")$")
	if err != nil {
		return nil, fmt.Errorf("CORS origin: %w", err)
	}
	meta := opts.Metadata
	if meta == nil {
		meta, _ = st.(MetadataSource)
	}
	recorder := opts.MetadataRecorder
	if recorder == nil {
		recorder, _ = st.(MetadataRecorder)
	}
	admin, ok := st.(v1.TSDBAdminStats)
	if !ok {
		admin = noAdminStats{}
	}

	engine := promql.NewEngine(promql.EngineOpts{
		Logger:             logger.With("component", "promql"),
		Reg:                reg,
		MaxSamples:         opts.MaxSamples,
		Timeout:            opts.QueryTimeout,
		LookbackDelta:      opts.LookbackDelta,
		ActiveQueryTracker: newQueryLimiter(opts.MaxConcurrentQueries),
		// Prometheus' default for subqueries without a step: the global evaluation interval.
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		EnablePerStepStats:       true,
	})

	// Remote write goes through writeLimitHandler, and 2.0 appends through its
	// label-limited Appendable (write_limit.go).
	var appendable storage.Appendable = st
	var write *writeLimitHandler
	if opts.RemoteWrite {
		write = newWriteLimitHandler(st, opts.MaxWriteBytes, opts.WriteLimits, logger.With("component", "remote-write"), reg)
		appendable = write.app
		write.meta = recorder
		write.admitter = opts.WriteAdmitter
	}

	// Remote-written metadata is kept for /metadata (write_metadata.go).
	appendable = withWriteMetadata(appendable, recorder, logger.With("component", "remote-write"))

	start := time.Now()
	api := v1.NewAPI(
		timeoutEngine{QueryEngine: engine, timeout: opts.QueryTimeout}, st, appendable, st,
		scrapePools(opts),
		orEmptyTargets(opts.Targets),
		orEmptyAlertmanagers(opts.Alertmanagers),
		statusConfig(opts),
		flags(opts),
		globalURLOptions(opts.ListenAddress),
		func(f http.HandlerFunc) http.HandlerFunc { return f },
		admin,
		"",    // no snapshot directory: admin endpoints are off
		false, // enableAdmin
		slog.New(quietLimitRefusals{logger.With("component", "prom-api").Handler()}),
		orEmptyRules(opts.Rules),
		5e7,   // remote read sample limit (Prometheus default)
		10,    // remote read concurrency limit
		1<<20, // remote read max bytes in frame
		false, // isAgent
		cors,
		func() (v1.RuntimeInfo, error) { return runtimeInfo(start, opts.Retention), nil },
		&v1.PrometheusVersion{
			Version:   opts.Version,
			Revision:  opts.Revision,
			Branch:    "",
			BuildUser: "loupe",
			BuildDate: opts.BuildDate,
			GoVersion: runtime.Version(),
		},
		noNotifications, noNotificationsSub,
		gatherer, reg,
		nil, // default stats renderer
		opts.RemoteWrite,
		config.RemoteWriteProtoMsgs{config.RemoteWriteProtoMsgV1, config.RemoteWriteProtoMsgV2},
		false, false, false, // OTLP: the server mounts its OTLP receiver on Prefix+"/otlp/v1/metrics"
		false, // created-timestamp zero ingestion
	)
	router := route.New().WithPrefix(Prefix)
	api.Register(router)

	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", checkQueryExpr(router, opts.QueryExpr))
	if write != nil {
		write.next = router
		mux.Handle("POST "+Prefix+"/write", write)
	}
	mux.Handle("GET "+Prefix+"/metadata", httputil.CompressionHandler{
		Handler: &metadataHandler{source: meta, cors: cors, logger: logger},
	})
	return &API{engine: engine, mux: mux}, nil
}

// ServeHTTP serves requests whose path starts with Prefix.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// Engine returns the PromQL engine, for rule evaluation to share its limits and metrics.
func (a *API) Engine() *promql.Engine {
	return a.engine
}

// Close stops the engine. Safe to call twice.
func (a *API) Close() error {
	return a.engine.Close()
}
