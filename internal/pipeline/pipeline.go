// Package pipeline is the one path from every receiver to the stores: it enforces limits,
// queues with backpressure, and batches writes with group commit.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// Consumer takes decoded OTLP data from a receiver.
//
// Every method is safe for concurrent use and blocks until the data is committed to the
// store: nil means durable. The error classes receivers map to responses are:
//
//   - *store.PartialError: committed except the counted items (limits, or points the store
//     cannot represent); an OTLP partial success.
//   - *ThrottleError (ErrQueueFull, ErrNotRunning, store.ErrBusy): nothing committed,
//     retry after a delay.
//   - *tenant.LimitError (tenant.ErrLimit, Config.Tenant): nothing committed, the tenant
//     is over its ingest_rate or max_bytes_per_day; receivers answer 429 naming the limit.
//   - IsPermanent: nothing committed, sending the same data again will fail again.
//   - anything else (store failure, ctx done): nothing committed, retryable.
//
// The consumer takes ownership of the data: it may modify it (rejected items are removed)
// and the caller must not use it after the call. When the call returns the consumer no
// longer touches it. A cancelled ctx returns early only while the data still waits in the
// queue; once its write began, the call waits for it.
type Consumer interface {
	ConsumeLogs(ctx context.Context, ld plog.Logs) error
	ConsumeTraces(ctx context.Context, td ptrace.Traces) error
	ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error
}

// Writers are the stores the pipeline feeds. All three are required.
type Writers struct {
	Logs    store.LogWriter
	Spans   store.SpanWriter
	Metrics store.MetricWriter
}

// Pipeline implements Consumer with one bounded queue and one writer goroutine per signal.
type Pipeline struct {
	cfg    Config
	w      Writers
	logger *slog.Logger

	logs    *signalPipe[plog.Logs]
	spans   *signalPipe[ptrace.Traces]
	metrics *signalPipe[pmetric.Metrics]

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc // aborts in-flight writes when Shutdown runs out of time
}

var _ Consumer = (*Pipeline)(nil)

// New returns a pipeline feeding w. It accepts data only after Start, which also refuses
// nil writers. cfg must be valid
// (see Config.Validate; Start checks it). A nil logger discards logs; a nil reg registers
// no metrics.
func New(cfg Config, w Writers, logger *slog.Logger, reg prometheus.Registerer) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newSelfMetrics(reg, logger)
	p := &Pipeline{cfg: cfg, w: w, logger: logger}
	p.logs = newSignalPipe(string(store.SignalLogs), signalOps[plog.Logs]{
		count:     plog.Logs.LogRecordCount,
		size:      logsSizer.LogsSize,
		validate:  validator.logs,
		write:     func(ctx context.Context, ld plog.Logs) error { return w.Logs.WriteLogs(ctx, ld) },
		newBatch:  plog.NewLogs,
		resources: func(ld plog.Logs) int { return ld.ResourceLogs().Len() },
		moveAll:   func(src, dst plog.Logs) { src.ResourceLogs().MoveAndAppendTo(dst.ResourceLogs()) },
		moveRange: func(src plog.Logs, from, to int, dst plog.Logs) {
			for i := from; i < to; i++ {
				src.ResourceLogs().At(i).MoveTo(dst.ResourceLogs().AppendEmpty())
			}
		},
	}, cfg, m, logger)
	if cfg.Limits.MaxLogStreams > 0 {
		p.logs.v.streams = newStreamSet(cfg.Limits.MaxLogStreams, cfg.Limits.StreamIdle, m.logStreams)
	}
	p.spans = newSignalPipe(string(store.SignalSpans), signalOps[ptrace.Traces]{
		count:     ptrace.Traces.SpanCount,
		size:      tracesSizer.TracesSize,
		validate:  validator.traces,
		write:     func(ctx context.Context, td ptrace.Traces) error { return w.Spans.WriteTraces(ctx, td) },
		newBatch:  ptrace.NewTraces,
		resources: func(td ptrace.Traces) int { return td.ResourceSpans().Len() },
		moveAll:   func(src, dst ptrace.Traces) { src.ResourceSpans().MoveAndAppendTo(dst.ResourceSpans()) },
		moveRange: func(src ptrace.Traces, from, to int, dst ptrace.Traces) {
			for i := from; i < to; i++ {
				src.ResourceSpans().At(i).MoveTo(dst.ResourceSpans().AppendEmpty())
			}
		},
	}, cfg, m, logger)
	// Metrics are not merged: a MetricWriter may reject some points (*store.PartialError),
	// and in a merged write that count could not be attributed to the right request.
	// TSDB appends are cheap enough per request.
	p.metrics = newSignalPipe(string(store.SignalMetrics), signalOps[pmetric.Metrics]{
		count:    pmetric.Metrics.DataPointCount,
		size:     metricsSizer.MetricsSize,
		validate: validator.metrics,
		write:    func(ctx context.Context, md pmetric.Metrics) error { return w.Metrics.WriteMetrics(ctx, md) },
	}, cfg, m, logger)
	return p
}

// Start validates the configuration and starts the writers. It returns at once. ctx is
// used only while starting, as for every component's Start.
func (p *Pipeline) Start(ctx context.Context) error {
	if err := p.cfg.Validate(); err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	if p.w.Logs == nil || p.w.Spans == nil || p.w.Metrics == nil {
		return errors.New("start pipeline: Writers.Logs, Spans and Metrics are all required")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return errors.New("start pipeline: already started")
	}
	p.started = true
	// Writes outlive the Start ctx; only Shutdown cancels them.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.logs.start(runCtx)
	p.spans.start(runCtx)
	p.metrics.start(runCtx)
	return nil
}

// Shutdown stops accepting data (new calls get ErrNotRunning), writes everything already
// queued, and returns when the writers are done. When ctx ends first it aborts the writes
// in progress, fails the requests still queued (their callers get an error, so nothing
// acknowledged is lost) and returns ctx's error. Safe without Start and safe twice.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	started := p.started
	if !p.stopped {
		p.stopped = true
		if started {
			p.logs.close()
			p.spans.close()
			p.metrics.close()
		}
	}
	p.mu.Unlock()
	if !started {
		return nil
	}
	for _, exited := range []chan struct{}{p.logs.exited, p.spans.exited, p.metrics.exited} {
		select {
		case <-exited:
		case <-ctx.Done():
			// Empty the queues before cancelling, so the writers find nothing more to take.
			p.logs.abort()
			p.spans.abort()
			p.metrics.abort()
			p.cancel()
			return fmt.Errorf("shutdown pipeline: %w", ctx.Err())
		}
	}
	p.cancel()
	return nil
}

// ConsumeLogs implements Consumer.
func (p *Pipeline) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if ld.IsReadOnly() {
		c := plog.NewLogs()
		ld.CopyTo(c)
		ld = c
	}
	if p.cfg.Scrub != nil {
		p.cfg.Scrub.Logs(ld)
	}
	return p.logs.consume(ctx, ld)
}

// ConsumeTraces implements Consumer.
func (p *Pipeline) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if td.IsReadOnly() {
		c := ptrace.NewTraces()
		td.CopyTo(c)
		td = c
	}
	if p.cfg.Scrub != nil {
		p.cfg.Scrub.Traces(td)
	}
	return p.spans.consume(ctx, td)
}

// ConsumeMetrics implements Consumer.
func (p *Pipeline) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if md.IsReadOnly() {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		md = c
	}
	return p.metrics.consume(ctx, md)
}
