// Package sentry receives what Sentry SDKs send (the envelope and legacy store endpoints
// of a DSN pointed at Loupe): error and message events for the issue list (errtrack),
// transactions as spans in the trace store, and Crons check-ins as job runs.
package sentry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// EventRecorder groups, scrubs and stores error events (errtrack's Recorder). On nil
// every event is committed; a repeated event_id is harmless.
type EventRecorder interface {
	Record(ctx context.Context, events []errtrack.Event) error
}

// SpanConsumer takes spans into the trace store (the ingest pipeline).
type SpanConsumer interface {
	ConsumeTraces(ctx context.Context, td ptrace.Traces) error
}

// Sinks are where accepted items go. A nil sink drops its items (and counts them in
// loupe_sentry_items_total with outcome "dropped").
type Sinks struct {
	Events EventRecorder
	Spans  SpanConsumer
	Runs   runs.Writer
}

// Options configure the handler. Start from DefaultOptions.
type Options struct {
	// MaxRequestBytes bounds a request body as sent and after gzip or deflate
	// decompression; larger bodies get 413. Default 16 MiB.
	MaxRequestBytes int64
	// DefaultRetryAfter is the Retry-After of a 429/503 when the pipeline does not
	// suggest one. Default 1s.
	DefaultRetryAfter time.Duration
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{MaxRequestBytes: 16 << 20, DefaultRetryAfter: time.Second}
}

// Handler serves POST /api/<project>/envelope/ and /api/<project>/store/. Mount it with
// Mount. Safe for concurrent use.
type Handler struct {
	projects *Projects
	sinks    Sinks
	opts     Options
	limiter  *rateLimiter
	logger   *slog.Logger
	now      func() time.Time

	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
}

// NewHandler returns the ingest handler. A nil logger discards logs; a nil reg registers
// no metrics.
func NewHandler(projects *Projects, sinks Sinks, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = def.MaxRequestBytes
	}
	if opts.DefaultRetryAfter <= 0 {
		opts.DefaultRetryAfter = def.DefaultRetryAfter
	}
	return &Handler{
		projects: projects, sinks: sinks, opts: opts, limiter: newRateLimiter(), logger: logger, now: time.Now,
		requests: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_sentry_requests_total",
			Help: "Requests to the Sentry ingest endpoints by project id (\"unknown\" before authentication) and HTTP status.",
		}, []string{"project", "status"})),
		items: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_sentry_items_total",
			Help: "Sentry envelope items of authenticated requests by project id, item type and outcome (stored, dropped: accepted and not kept, rate_limited).",
		}, []string{"project", "type", "outcome"})),
	}
}

// Endpoints.
const (
	endpointEnvelope = "envelope"
	endpointStore    = "store"
)

// IsIngestPath reports whether path is a Sentry ingest path, /api/<digits>/envelope/ or
// /api/<digits>/store/ (the trailing slash optional), and returns the project id and the
// endpoint. Sentry SDKs only make numeric project ids, and no other route of the HTTP port
// has a number after /api/, so the ingest paths cannot shadow the Prometheus, Tempo or
// Loupe APIs.
func IsIngestPath(path string) (project, endpoint string, ok bool) {
	rest, found := strings.CutPrefix(path, "/api/")
	if !found {
		return "", "", false
	}
	project, endpoint, found = strings.Cut(rest, "/")
	if !found || !validProjectID(project) {
		return "", "", false
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if endpoint != endpointEnvelope && endpoint != endpointStore {
		return "", "", false
	}
	return project, endpoint, true
}

// Mount returns a handler that serves the Sentry ingest paths (IsIngestPath) with h and
// every other request with next. It is a prefix check rather than a ServeMux pattern
// because "/api/{project}/envelope/" and the Prometheus API's "/api/v1/" overlap without
// either being more specific, which ServeMux refuses as a conflict.
func Mount(next, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := IsIngestPath(r.URL.Path); ok {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// result is the answer to one request; ServeHTTP writes it.
type result struct {
	status     int
	detail     string // error message, sent as Sentry's {"detail": ...}
	id         string // event id of a success
	retryAfter time.Duration
	rateLimits string // X-Sentry-Rate-Limits
	project    string // authenticated project id, for metrics
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Browser SDKs post from pages of other origins, authenticated by the DSN key in the
	// query string; Sentry answers them with CORS headers, and so does Loupe.
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Expose-Headers", "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After")
	if r.Method == http.MethodOptions {
		hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, X-Sentry-Auth, Authorization, X-Requested-With, sentry-trace, baggage")
		hdr.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
		return
	}
	res := h.handle(r)
	project := res.project
	if project == "" {
		project = "unknown"
	}
	h.requests.WithLabelValues(project, strconv.Itoa(res.status)).Inc()
	if res.retryAfter > 0 {
		hdr.Set("Retry-After", strconv.Itoa(int(math.Ceil(res.retryAfter.Seconds()))))
	}
	if res.rateLimits != "" {
		hdr.Set("X-Sentry-Rate-Limits", res.rateLimits)
	}
	if res.status == http.StatusMethodNotAllowed {
		hdr.Set("Allow", "POST, OPTIONS")
	}
	hdr.Set("Content-Type", "application/json")
	var body []byte
	if res.status == http.StatusOK {
		body, _ = json.Marshal(map[string]string{"id": res.id})
	} else {
		hdr.Set("X-Sentry-Error", headerSafe(res.detail))
		body, _ = json.Marshal(map[string]string{"detail": res.detail})
		if res.status >= 500 {
			h.logger.Warn("sentry ingest failed", "status", res.status, "project", project, "err", res.detail)
		} else {
			h.logger.Debug("sentry ingest refused", "status", res.status, "project", project, "err", res.detail)
		}
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(append(body, '\n'))
}

func (h *Handler) handle(r *http.Request) result {
	projectID, endpoint, ok := IsIngestPath(r.URL.Path)
	if !ok {
		return result{status: http.StatusNotFound, detail: "not a Sentry ingest path: want /api/<project id>/envelope/ or /api/<project id>/store/"}
	}
	if r.Method != http.MethodPost {
		return result{status: http.StatusMethodNotAllowed, detail: fmt.Sprintf("method %s not allowed, use POST", r.Method)}
	}
	key := RequestKey(r)
	var project Project
	if key != "" {
		// Authenticate before reading the body when the key is in the request.
		if res, ok := h.authenticate(key, projectID, &project); !ok {
			return res
		}
	}
	body, res := readBody(r, h.opts.MaxRequestBytes)
	if res != nil {
		res.project = project.ID
		return *res
	}
	var env *Envelope
	if endpoint == endpointEnvelope {
		var err error
		if env, err = ParseEnvelope(body); err != nil {
			return result{status: http.StatusBadRequest, detail: err.Error(), project: project.ID}
		}
	} else {
		body = legacyStoreBody(body, h.opts.MaxRequestBytes)
		env = &Envelope{Items: []Item{{Type: "event", Payload: body}}}
	}
	if k := dsnKey(env.Header.DSN); key != "" && k != "" && k != key {
		// The spec: several forms of authentication must agree.
		return result{status: http.StatusUnauthorized, project: project.ID,
			detail: "the envelope header's dsn names another key than X-Sentry-Auth or sentry_key"}
	}
	if key == "" {
		if key = dsnKey(env.Header.DSN); key == "" {
			return result{status: http.StatusUnauthorized,
				detail: "missing authorization information: send the DSN's key in X-Sentry-Auth, the sentry_key query parameter or the envelope header's dsn"}
		}
		if res, ok := h.authenticate(key, projectID, &project); !ok {
			return res
		}
	}
	res2 := h.ingest(r.Context(), project, env)
	res2.project = project.ID
	return res2
}

func (h *Handler) authenticate(key, projectID string, p *Project) (result, bool) {
	pr, ok := h.projects.Lookup(key)
	if !ok {
		return result{status: http.StatusUnauthorized, detail: "unknown DSN key: create one with `loupe sentry-dsn create --project NAME` or list it under sentry.projects"}, false
	}
	if pr.ID != projectID {
		return result{status: http.StatusUnauthorized, detail: fmt.Sprintf("the DSN key is not a key of project %s (the DSN's project id must be the one the key was made for)", projectID)}, false
	}
	*p = pr
	return result{}, true
}

// decoded holds the items of one envelope once every one has parsed.
type decoded struct {
	events   []errtrack.Event
	traces   []ptrace.Traces
	traceOf  map[string]int // transaction and span items behind traces
	runs     []runs.Run
	accepted map[string]int // items accepted and not kept, by type
}

// counted is how many items count against the rate limit: events, transactions and span
// items (one trace each), check-ins.
func (d *decoded) counted() int { return len(d.events) + len(d.traces) + len(d.runs) }

func (h *Handler) ingest(ctx context.Context, project Project, env *Envelope) result {
	now := h.now()
	meta := eventMeta{Project: project.ID, Service: project.Name, EventID: env.Header.EventID, Received: now}
	d := decoded{accepted: map[string]int{}, traceOf: map[string]int{}}
	for i, it := range env.Items {
		if err := d.add(it, meta, project); err != nil {
			return result{status: http.StatusBadRequest, detail: fmt.Sprintf("item %d (%s): %v", i, it.Type, err)}
		}
	}
	if wait, ok := h.limiter.take(project, d.counted(), now); !ok {
		for _, it := range env.Items {
			h.items.WithLabelValues(project.ID, itemTypeLabel(it.Type), "rate_limited").Inc()
		}
		secs := int(math.Ceil(wait.Seconds()))
		return result{status: http.StatusTooManyRequests, retryAfter: wait,
			// Sentry's format: retry_after:categories:scope. The SDKs stop sending these
			// categories for that long.
			rateLimits: fmt.Sprintf("%d:error;default;transaction;monitor:key", secs),
			detail:     fmt.Sprintf("project %s (%s) is over its rate limit of %g events per second; retry after %ds", project.ID, project.Name, project.EventsPerSecond, secs)}
	}
	if res, ok := h.write(ctx, project, &d); !ok {
		return res
	}
	for typ, n := range d.accepted {
		h.items.WithLabelValues(project.ID, typ, "dropped").Add(float64(n))
	}
	id := hexID(env.Header.EventID, 32)
	if id == "" && len(d.events) > 0 {
		id = d.events[0].EventID
	}
	return result{status: http.StatusOK, id: id}
}

// add decodes one item. Item types that carry nothing Loupe keeps are accepted and
// counted; unknown types are skipped, as Sentry's own relay does, so that a newer SDK
// keeps working.
func (d *decoded) add(it Item, meta eventMeta, project Project) error {
	switch it.Type {
	case "event":
		ev, err := DecodeEvent(it.Payload, meta)
		if err != nil {
			return err
		}
		d.events = append(d.events, ev)
	case "transaction", "span":
		decode := DecodeTransaction
		if it.Type == "span" {
			decode = DecodeSpans
		}
		td, err := decode(it.Payload, meta)
		if err != nil {
			return err
		}
		d.traces = append(d.traces, td)
		d.traceOf[it.Type]++
	case "check_in":
		c, err := DecodeCheckIn(it.Payload)
		if err != nil {
			return err
		}
		run, err := c.toRun(project, meta.Received)
		if err != nil {
			return err
		}
		d.runs = append(d.runs, run)
	case "session", "sessions", "client_report", "attachment", "user_report", "feedback",
		"profile", "profile_chunk", "replay_event", "replay_recording", "replay_video",
		"statsd", "metric_meta", "otel_span", "log", "otel_log", "raw_security", "nel":
		d.accepted[it.Type]++
	default:
		d.accepted["other"]++
	}
	return nil
}

// write hands the items to their sinks: spans, then runs, then events. A failure answers
// 429 or 503 so that the SDK retries the whole envelope; what was already written is
// written again harmlessly (spans are stored twice at worst, runs are upserted, events
// are deduplicated by id).
func (h *Handler) write(ctx context.Context, project Project, d *decoded) (result, bool) {
	count := func(typ, outcome string, n int) {
		if n > 0 {
			h.items.WithLabelValues(project.ID, typ, outcome).Add(float64(n))
		}
	}
	if len(d.traces) > 0 {
		outcome := "stored"
		if h.sinks.Spans == nil {
			outcome = "dropped"
		} else {
			td := d.traces[0]
			for _, more := range d.traces[1:] {
				more.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
			}
			if err := h.sinks.Spans.ConsumeTraces(ctx, td); err != nil && !pipeline.IsPartial(err) {
				return h.writeError("transaction spans", err), false
			}
		}
		for typ, n := range d.traceOf {
			count(typ, outcome, n)
		}
	}
	if len(d.runs) > 0 {
		if h.sinks.Runs == nil {
			count("check_in", "dropped", len(d.runs))
		} else {
			if err := h.sinks.Runs.UpsertRuns(ctx, d.runs); err != nil {
				return h.writeError("check-in runs", err), false
			}
			count("check_in", "stored", len(d.runs))
		}
	}
	if len(d.events) > 0 {
		if h.sinks.Events == nil {
			count("event", "dropped", len(d.events))
		} else {
			if err := h.sinks.Events.Record(ctx, d.events); err != nil {
				return h.writeError("events", err), false
			}
			count("event", "stored", len(d.events))
		}
	}
	return result{}, true
}

// writeError maps a sink's error: permanent problems are 400, a full queue or a busy store
// (pipeline.IsThrottled) or a tenant's limit 429, anything else (store failure, full disk, shutting down) 503;
// the last two with Retry-After.
func (h *Handler) writeError(what string, err error) result {
	retry := h.opts.DefaultRetryAfter
	if d, ok := pipeline.RetryAfter(err); ok && d > 0 {
		retry = d
	}
	switch {
	case pipeline.IsPermanent(err):
		return result{status: http.StatusBadRequest, detail: fmt.Sprintf("store %s: %v", what, err)}
	case errors.Is(err, tenant.ErrLimit): // tenants.limits: Retry-After for the rate only
		le, _ := tenant.AsLimit(err)
		return result{status: http.StatusTooManyRequests, retryAfter: le.RetryAfter, detail: fmt.Sprintf("store %s: %v", what, err)}
	case pipeline.IsThrottled(err):
		return result{status: http.StatusTooManyRequests, retryAfter: retry, detail: fmt.Sprintf("store %s: %v", what, err)}
	case errors.Is(err, store.ErrDiskFull):
		return result{status: http.StatusServiceUnavailable, retryAfter: max(retry, 10*time.Second), detail: fmt.Sprintf("store %s: %v", what, err)}
	default:
		return result{status: http.StatusServiceUnavailable, retryAfter: retry, detail: fmt.Sprintf("store %s: %v", what, err)}
	}
}

func itemTypeLabel(t string) string {
	switch t {
	case "event", "transaction", "span", "check_in", "session", "sessions", "client_report", "attachment":
		return t
	}
	return "other"
}

// headerSafe makes s usable as a header value: one line, printable ASCII, bounded.
func headerSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
