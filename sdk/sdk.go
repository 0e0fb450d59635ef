// Package sdk sets up OpenTelemetry traces, metrics and logs for a Go program in one call,
// exporting over OTLP to a Loupe server (or any OTLP receiver).
//
// A program calls Start once, uses the Logger, Tracer and Meter it returns, and calls
// Shutdown before it exits so that everything buffered is sent:
//
//	s, err := sdk.Start(ctx, sdk.Options{ServiceName: "dice", ServiceVersion: "1.0"})
//	if err != nil { ... }
//	defer s.Shutdown(context.Background())
//	ctx = s.Context(ctx) // continue the trace of `loupe run`, when run under it
//	s.Logger().InfoContext(ctx, "started")
//
// The subpackage bench times functions, microbench style, into spans and a histogram.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the scope of the telemetry the SDK itself produces (its logger).
const instrumentationName = "github.com/loupe-dev/loupe/sdk"

// SDK holds the providers Start created. Its methods are safe for concurrent use.
type SDK struct {
	resource   *resource.Resource
	tracers    *sdktrace.TracerProvider
	tp         trace.TracerProvider // tracers, wrapped for span profiles when profiling
	profiler   *profiler            // nil when profiling is off
	meters     *sdkmetric.MeterProvider
	loggers    *sdklog.LoggerProvider
	logger     *slog.Logger
	propagator propagation.TextMapPropagator
	parent     trace.SpanContext // from TRACEPARENT at Start; invalid when unset

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start sets up tracing, metrics and logging as o says and returns at once: nothing is sent
// until there is something to send, and a server that is down or slow never blocks the
// program (exports run in the background, are retried, then dropped with an error on
// Options.ErrorLog). It fails only on bad Options.
//
// Start also reads TRACEPARENT (and TRACESTATE) from the environment, as set by `loupe run`:
// Context adds that parent to a context so the program's spans nest under the run's span.
func Start(ctx context.Context, o Options) (*SDK, error) {
	return start(ctx, o, os.Getenv)
}

func start(ctx context.Context, o Options, getenv func(string) string) (*SDK, error) {
	o, err := o.withDefaults(getenv)
	if err != nil {
		return nil, fmt.Errorf("sdk options: %w", err)
	}
	res, err := newResource(ctx, o)
	if res == nil {
		return nil, err
	}
	if err != nil {
		o.ErrorLog.Warn("opentelemetry resource detection", "err", err)
	}

	spanExp, err := newSpanExporter(ctx, o)
	if err != nil {
		return nil, err
	}
	metricExp, err := newMetricExporter(ctx, o)
	if err != nil {
		return nil, errors.Join(err, spanExp.Shutdown(ctx))
	}
	logExp, err := newLogExporter(ctx, o)
	if err != nil {
		return nil, errors.Join(err, spanExp.Shutdown(ctx), metricExp.Shutdown(ctx))
	}

	var readerOpts []sdkmetric.PeriodicReaderOption
	if o.MetricInterval > 0 {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(o.MetricInterval))
	}
	s := &SDK{
		resource: res,
		tracers: sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(spanExp),
			sdktrace.WithResource(res)),
		meters: sdkmetric.NewMeterProvider(
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, readerOpts...)),
			sdkmetric.WithResource(res)),
		loggers: sdklog.NewLoggerProvider(
			sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)),
			sdklog.WithResource(res)),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		parent:     parentFromEnv(getenv),
	}
	s.logger = slog.New(s.handler(o))
	s.tp = s.tracers
	if profileOn(o, getenv) {
		service := o.ServiceName
		if v, ok := res.Set().Value("service.name"); ok && v.AsString() != "" {
			service = v.AsString()
		}
		if p, err := newProfiler(o, service, getenv); err != nil {
			o.ErrorLog.Warn("loupe sdk: profiling is off", "err", err)
		} else {
			s.profiler = p
			s.tp = &profiledTracerProvider{tp: s.tracers}
		}
	}

	if !o.NoRuntimeMetrics {
		if err := runtime.Start(runtime.WithMeterProvider(s.meters)); err != nil {
			return nil, errors.Join(fmt.Errorf("runtime metrics: %w", err), s.Shutdown(ctx))
		}
	}
	if !o.NoGlobal {
		otel.SetTracerProvider(s.tp)
		otel.SetMeterProvider(s.meters)
		otel.SetLoggerProvider(s.loggers)
		otel.SetTextMapPropagator(s.propagator)
		otel.SetErrorHandler(newErrorReporter(o.ErrorLog))
	}
	if s.profiler != nil {
		s.profiler.start()
	}
	return s, nil
}

// handler is the slog handler behind Logger: OTLP records at o.LogLevel and above, and the
// same records as text on o.Console when it is set.
func (s *SDK) handler(o Options) slog.Handler {
	var h slog.Handler = otelslog.NewHandler(instrumentationName, otelslog.WithLoggerProvider(s.loggers))
	if o.Console != nil {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(o.Console, &slog.HandlerOptions{Level: o.LogLevel}))
	}
	return &levelHandler{min: o.LogLevel, next: h}
}

// Logger returns a logger whose records are exported as OTLP logs. Use the ...Context
// methods (InfoContext, ErrorContext) inside a span: the record then carries the span's
// trace and span ids, which is what links a log line to its trace in Loupe.
func (s *SDK) Logger() *slog.Logger { return s.logger }

// Tracer returns a tracer of the SDK's provider; name is the instrumentation scope, usually
// the package path.
func (s *SDK) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return s.tp.Tracer(name, opts...)
}

// Meter returns a meter of the SDK's provider; name is the instrumentation scope.
func (s *SDK) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return s.meters.Meter(name, opts...)
}

// TracerProvider, MeterProvider and LoggerProvider return the providers, for
// instrumentation libraries that take them as options (otelhttp.WithTracerProvider, ...).
// With profiling on, its tracers label the CPU samples of local root spans (span_id).
func (s *SDK) TracerProvider() trace.TracerProvider { return s.tp }

// MeterProvider returns the SDK's meter provider.
func (s *SDK) MeterProvider() metric.MeterProvider { return s.meters }

// LoggerProvider returns the SDK's OpenTelemetry log provider (Logger wraps it for slog).
func (s *SDK) LoggerProvider() otellog.LoggerProvider { return s.loggers }

// Propagator returns the W3C trace-context and baggage propagator, for HTTP clients and
// servers that pass traces across processes.
func (s *SDK) Propagator() propagation.TextMapPropagator { return s.propagator }

// Resource returns the resource attached to every span, metric and log record.
func (s *SDK) Resource() *resource.Resource { return s.resource }

// ForceFlush exports everything buffered now, e.g. before a long sleep in a batch job.
func (s *SDK) ForceFlush(ctx context.Context) error {
	return errors.Join(
		wrap("flush traces", s.tracers.ForceFlush(ctx)),
		wrap("flush metrics", s.meters.ForceFlush(ctx)),
		wrap("flush logs", s.loggers.ForceFlush(ctx)))
}

// Shutdown flushes and stops the providers: spans first (logs written while they end still
// go out), then metrics (one last export), then logs. It gives up when ctx is done, so a
// deadline bounds it even when the server is unreachable. It is safe to call on a nil
// SDK and more than once; later calls return the first call's result. The OpenTelemetry
// globals Start installed stay in place, as no-ops.
func (s *SDK) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.shutdownOnce.Do(func() {
		s.shutdownErr = errors.Join(
			s.profiler.shutdown(ctx), // the last cycle: a short job's only profile
			wrap("shut down traces", s.tracers.Shutdown(ctx)),
			wrap("shut down metrics", s.meters.Shutdown(ctx)),
			wrap("shut down logs", s.loggers.Shutdown(ctx)))
	})
	return s.shutdownErr
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
