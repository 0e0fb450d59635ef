// Package loki serves the Loki HTTP query API (LogQL) over a log store, for Grafana's
// Loki data source and logcli.
package loki

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/version"
)

// Prefix is where the handler is mounted; it serves the paths in Paths below it. The push
// endpoint (/loki/api/v1/push) is a different handler (internal/ingest/loki) and is mounted
// beside it with a more specific pattern.
const Prefix = "/loki/api/v1/"

// Paths are the endpoints the handler serves.
var Paths = []string{
	"/loki/api/v1/query", "/loki/api/v1/query_range", "/loki/api/v1/labels",
	"/loki/api/v1/label/{name}/values", "/loki/api/v1/series", "/loki/api/v1/index/stats",
	"/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range", "/loki/api/v1/label", "/loki/api/v1/tail", "/loki/api/v1/status/buildinfo",
	"/loki/api/v1/detected_labels", "/loki/api/v1/format_query",
	"/loki/api/v1/detected_fields", "/loki/api/v1/detected_field/{name}/values", "/loki/api/v1/patterns",
}

// Options configure the handler.
type Options struct {
	Engine       logql.Options
	DefaultLimit int           // entries of a log query without limit (Loki: 100)
	LabelsSpan   time.Duration // lookback of labels/series without start (Loki: 6h)
	TailInterval time.Duration // how often tail polls the store
	QueryTimeout time.Duration
}

// DefaultOptions returns Loki's defaults.
func DefaultOptions() Options {
	return Options{Engine: logql.DefaultOptions(), DefaultLimit: 100, LabelsSpan: 6 * time.Hour,
		TailInterval: time.Second, QueryTimeout: 2 * time.Minute}
}

// Handler serves the Loki query API. Safe for concurrent use.
type Handler struct {
	store  plan.Store
	engine *logql.Engine
	opts   Options
	logger *slog.Logger
	mux    *http.ServeMux
	now    func() time.Time

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHandler returns the query API over st. A nil logger discards logs; a nil reg
// registers no metrics.
func NewHandler(st plan.Store, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.DefaultLimit <= 0 {
		opts.DefaultLimit = def.DefaultLimit
	}
	if opts.LabelsSpan <= 0 {
		opts.LabelsSpan = def.LabelsSpan
	}
	if opts.TailInterval <= 0 {
		opts.TailInterval = def.TailInterval
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = def.QueryTimeout
	}
	if opts.Engine == (logql.Options{}) {
		opts.Engine = def.Engine
	}
	h := &Handler{
		store: st, engine: logql.NewEngine(st, opts.Engine, logger), opts: opts, logger: logger, now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_loki_query_requests_total", Help: "Loki query API requests by endpoint and HTTP status.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loupe_loki_query_duration_seconds", Help: "Loki query API request duration by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"endpoint"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.requests, h.duration} {
			if err := reg.Register(c); err != nil {
				logger.Warn("loki query api: metrics not registered", "err", err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/loki/api/v1/query", h.instrument("query", h.query))
	mux.HandleFunc("/loki/api/v1/query_range", h.instrument("query_range", h.queryRange))
	mux.HandleFunc("/loki/api/v1/labels", h.instrument("labels", h.labels))
	mux.HandleFunc("/loki/api/v1/label/{name}/values", h.instrument("label_values", h.labelValues))
	mux.HandleFunc("/loki/api/v1/series", h.instrument("series", h.series))
	mux.HandleFunc("/loki/api/v1/index/stats", h.instrument("index_stats", h.indexStats))
	mux.HandleFunc("/loki/api/v1/index/volume", h.instrument("index_volume", h.volume))
	mux.HandleFunc("/loki/api/v1/index/volume_range", h.instrument("index_volume_range", h.volumeRange))
	mux.HandleFunc("/loki/api/v1/label", h.instrument("labels", h.labels)) // Loki's alias of /labels
	mux.HandleFunc("/loki/api/v1/detected_labels", h.instrument("detected_labels", h.detectedLabels))
	mux.HandleFunc("/loki/api/v1/detected_fields", h.instrument("detected_fields", h.detectedFields))
	mux.HandleFunc("/loki/api/v1/detected_field/{name}/values", h.instrument("detected_field_values", h.detectedFieldValues))
	mux.HandleFunc("/loki/api/v1/patterns", h.instrument("patterns", h.patterns))
	mux.HandleFunc("/loki/api/v1/format_query", h.instrument("format_query", h.formatQuery))
	mux.HandleFunc("/loki/api/v1/status/buildinfo", h.instrument("buildinfo", h.buildInfo))
	mux.Handle("/loki/api/v1/tail", h.tailHandler())
	// Legacy paths of Loki before 2.0 that Grafana no longer uses are not served.
	h.mux = mux
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// apiFunc handles one request and returns the response body, or an error.
type apiFunc func(r *http.Request) (any, error)

// badRequest marks errors in the request parameters (HTTP 400).
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }
func (e badRequest) Unwrap() error { return e.err }

func bad(err error) error { return badRequest{err} }

func (h *Handler) instrument(endpoint string, f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			h.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
			h.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			sw.Header().Set("Allow", "GET, POST")
			http.Error(sw, "method "+r.Method+" not allowed, use GET or POST", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(sw, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
		defer cancel()
		body, err := f(r.WithContext(ctx))
		if err != nil {
			h.writeError(sw, r, err)
			return
		}
		writeJSON(sw, body)
	}
}

// writeError answers as Loki does: a plain-text message with 400 for bad queries, 504
// when the query timed out, 500 otherwise.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *logql.ParseError
	var ie *logql.InputError
	var br badRequest
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &pe), errors.As(err, &ie), errors.As(err, &br), errors.Is(err, store.ErrBadInput):
		code = http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
		err = querylimit.Timeout(r.Context(), err)
	case errors.Is(err, context.Canceled):
		code = 499 // client closed request, as Loki and nginx say
	}
	if code >= 500 {
		h.logger.Warn("loki query failed", "path", r.URL.Path, "query", form(r, "query"), "err", err)
	}
	http.Error(w, err.Error(), code)
}

func (h *Handler) buildInfo(*http.Request) (any, error) {
	v := version.Get()
	// Grafana reads the version to enable features; Loupe implements the Loki 3 API.
	return map[string]string{
		"version": "3.0.0", "revision": "loupe-" + v.Version + " " + v.Revision, "branch": "loupe", "buildUser": "loupe",
		"buildDate": "", "goVersion": strings.TrimPrefix(v.GoVersion, "go"),
	}, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
