package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/loupe-dev/loupe/sdk"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/loupe-dev/loupe/examples/workload"

// worker runs the pipeline: workload → iteration → process item → compute, wait.
type worker struct {
	c      config
	rng    *rand.Rand
	log    *slog.Logger
	tracer trace.Tracer

	requests metric.Int64Counter     // workload.requests{status, stage}
	duration metric.Float64Histogram // workload.item.duration, seconds
}

func newWorker(c config, tel *sdk.SDK) (*worker, error) {
	meter := tel.Meter(scope)
	requests, err := meter.Int64Counter("workload.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Items processed, by outcome."))
	if err != nil {
		return nil, err
	}
	duration, err := meter.Float64Histogram("workload.item.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to process one item."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		return nil, err
	}
	started := time.Now()
	if _, err := meter.Float64ObservableGauge("workload.runtime", metric.WithUnit("s"),
		metric.WithDescription("Time since the workload started."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(time.Since(started).Seconds())
			return nil
		})); err != nil {
		return nil, err
	}
	if _, err := meter.Int64ObservableGauge("up",
		metric.WithDescription("1 while the workload runs."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(1)
			return nil
		})); err != nil {
		return nil, err
	}
	// Service name and version are on the resource of every record; repeating them as
	// attributes makes them visible in the console output too.
	log := tel.Logger().With("service", "workload", "version", "1.0.0")
	return &worker{c: c, rng: rand.New(rand.NewPCG(c.seed, c.seed)), log: log,
		tracer: tel.Tracer(scope), requests: requests, duration: duration}, nil
}

// run processes every iteration and returns how many items succeeded and failed. Failures
// are the data this example produces, not a reason for a non-zero exit.
func (w *worker) run(ctx context.Context) (ok, failed int) {
	ctx, span := w.tracer.Start(ctx, "workload", trace.WithAttributes(
		attribute.Int("workload.iterations", w.c.iterations),
		attribute.Int("workload.items", w.c.items),
		attribute.Int64("workload.seed", int64(w.c.seed))))
	defer span.End()
	w.log.InfoContext(ctx, "workload started", "iterations", w.c.iterations, "items", w.c.items,
		"seed", w.c.seed, "error_rate", w.c.errorRate)

	for i := 1; w.c.iterations == 0 || i <= w.c.iterations; i++ {
		if ctx.Err() != nil {
			w.log.WarnContext(ctx, "workload interrupted", "iteration", i)
			break
		}
		o, f := w.iteration(ctx, i)
		ok, failed = ok+o, failed+f
		if w.c.pause > 0 {
			sleep(ctx, w.c.pause)
		}
	}
	span.SetAttributes(attribute.Int("workload.items.ok", ok), attribute.Int("workload.items.failed", failed))
	w.log.InfoContext(ctx, "workload finished", "ok", ok, "failed", failed)
	return ok, failed
}

func (w *worker) iteration(ctx context.Context, i int) (ok, failed int) {
	ctx, span := w.tracer.Start(ctx, "iteration", trace.WithAttributes(attribute.Int("workload.iteration", i)))
	defer span.End()
	for j := 1; j <= w.c.items; j++ {
		if ctx.Err() != nil {
			break
		}
		if err := w.processItem(ctx, fmt.Sprintf("%d-%d", i, j)); err != nil {
			failed++
		} else {
			ok++
		}
	}
	span.SetAttributes(attribute.Int("workload.items.failed", failed))
	w.log.InfoContext(ctx, "iteration done", "iteration", i, "ok", ok, "failed", failed)
	return ok, failed
}

// processItem does an item's CPU work and I/O wait, then fails with probability errorRate.
// A failure is recorded the OpenTelemetry way: an exception event and status ERROR.
func (w *worker) processItem(ctx context.Context, id string) (err error) {
	start := time.Now()
	ctx, span := w.tracer.Start(ctx, "process item", trace.WithAttributes(attribute.String("item.id", id)))
	defer func() {
		status := "ok"
		if err != nil {
			status = "error"
			span.RecordError(err, trace.WithStackTrace(true))
			span.SetStatus(codes.Error, err.Error())
			w.log.ErrorContext(ctx, "item failed", "item.id", id, "err", err)
		} else {
			w.log.DebugContext(ctx, "item processed", "item.id", id)
		}
		attrs := metric.WithAttributes(attribute.String("status", status), attribute.String("stage", "process"))
		w.requests.Add(ctx, 1, attrs)
		w.duration.Record(ctx, time.Since(start).Seconds(), attrs)
		span.End()
	}()

	w.compute(ctx)
	delay := time.Duration(w.rng.Int64N(int64(w.c.maxDelay) + 1))
	if err := w.wait(ctx, delay); err != nil {
		return err
	}
	if w.rng.Float64() < w.c.errorRate {
		return fmt.Errorf("item %s: checksum mismatch", id)
	}
	return nil
}

func (w *worker) compute(ctx context.Context) {
	_, span := w.tracer.Start(ctx, "compute", trace.WithAttributes(attribute.Int("fib.n", w.c.fibN)))
	defer span.End()
	span.SetAttributes(attribute.Int("fib.result", fib(w.c.fibN)))
}

func (w *worker) wait(ctx context.Context, d time.Duration) error {
	ctx, span := w.tracer.Start(ctx, "wait", trace.WithAttributes(attribute.Float64("wait.seconds", d.Seconds())))
	defer span.End()
	if !sleep(ctx, d) {
		span.SetStatus(codes.Error, "interrupted")
		return ctx.Err()
	}
	return nil
}

// fib is deliberately the slow recursive Fibonacci: it is the CPU work a profile shows.
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// sleep waits for d or until ctx is done, and reports whether it waited the whole time.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
