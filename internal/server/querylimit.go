package server

import (
	"net/http"
	"strings"
	"time"

	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/querylimit"
)

// queryBounds are the limits of the read APIs, built once from the configuration: one
// admission limiter shared by every read API (Prometheus, Loki, Tempo, Jaeger, Loupe's
// own), so that together they never evaluate more than query.max_concurrent queries and
// ingest keeps its share of the machine (20 concurrent heavy queries had taken 9.1 GB and
// cut ingest by 75-95%, issue 18), and the expression limits checked before parsing.
type queryBounds struct {
	limiter *querylimit.Limiter
	expr    querylimit.ExprLimits
}

// ruleQuerySlots are the PromQL engine's queries beyond query.max_concurrent, for rules.
const ruleQuerySlots = 4

func (s *Server) newQueryBounds() queryBounds {
	q := s.cfg.Query
	return queryBounds{
		limiter: querylimit.New(querylimit.Config{
			MaxConcurrent: q.Concurrency(),
			MaxQueued:     q.MaxQueued,
			QueueTimeout:  time.Duration(q.QueueTimeout),
			Timeout:       time.Duration(q.Timeout),
			MaxTails:      q.MaxTails,
		}, s.logger.With("component", "query-limit"), s.reg),
		expr: querylimit.ExprLimits{MaxBytes: q.MaxQueryLength, MaxDepth: q.MaxQueryDepth},
	}
}

// read wraps a read API's handler with the limiter; exprParams are its parameters that
// hold a query expression (LogQL, TraceQL), checked before the limiter admits it.
func (b queryBounds) read(h http.Handler, exprParams ...string) http.Handler {
	h = b.limiter.Wrap(h, nil)
	if len(exprParams) > 0 {
		h = querylimit.CheckParams(h, b.expr, exprParams...)
	}
	return h
}

// prom wraps the Prometheus API, whose ingest endpoints (remote write, OTLP) are not
// queries and never wait for a query slot. Its own PromQL checks are set in promOptions.
func (b queryBounds) prom(h http.Handler) http.Handler {
	return b.limiter.Wrap(h, func(r *http.Request) bool {
		return r.URL.Path == prom.Prefix+"/write" || strings.HasPrefix(r.URL.Path, prom.Prefix+"/otlp/")
	})
}

// promOptions gives the PromQL engine the same timeout and sample budget as the other read
// APIs, and the expression limits. API queries are held to the limiter's concurrency
// before they reach the engine; the engine admits a few more for the rules, whose
// evaluations share it, so that heavy API queries do not hold alerts back.
func (b queryBounds) promOptions(o *prom.Options, q config.QueryConfig) {
	o.QueryTimeout = time.Duration(q.Timeout)
	o.MaxConcurrentQueries = q.Concurrency() + ruleQuerySlots
	o.MaxSamples = q.MaxSamples
	o.QueryExpr = b.expr
}

// ingestWindow sets the pipeline's time window and stream limit from the configuration:
// limits.max_age 0 means each signal's retention.
func ingestWindow(l *pipeline.Limits, cfg config.Config) {
	l.MaxFuture = time.Duration(cfg.Limits.MaxFuture)
	l.MaxLogAge, l.MaxSpanAge = time.Duration(cfg.Retention.Logs), time.Duration(cfg.Retention.Spans)
	if cfg.Limits.MaxAge > 0 {
		l.MaxLogAge, l.MaxSpanAge = time.Duration(cfg.Limits.MaxAge), time.Duration(cfg.Limits.MaxAge)
	}
	l.MaxLogStreams = cfg.Limits.MaxLogStreams
}

// lokiOptions gives the LogQL engine the query timeout and the result budgets.
func lokiOptions(o *lokiapi.Options, q config.QueryConfig) {
	o.QueryTimeout = time.Duration(q.Timeout)
	o.Engine.MaxEntries = q.MaxEntries
	o.Engine.MaxSeries = q.MaxSeries
	o.Engine.MaxSamples = int64(q.MaxSamples)
}
