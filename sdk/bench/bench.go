// Package bench times Go functions into OpenTelemetry spans and a histogram, in the spirit
// of Python's microbench: one line in research code records how long a function took, how
// often, and with which inputs, next to the program's other telemetry.
//
//	res, err := bench.Time(ctx, "simulate", func(ctx context.Context) error {
//		return simulate(ctx, grid)
//	}, bench.Iterations(5), bench.Warmup(1), bench.Args(grid))
//	fmt.Println(res) // simulate: 5 calls, min 1.2s, mean 1.3s, p50 1.3s, max 1.5s
package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope is the instrumentation scope of the spans and the histogram.
const scope = "github.com/loupe-dev/loupe/sdk/bench"

// MetricName is the histogram every measured call is recorded in, in seconds, with the
// attribute bench.function. In PromQL (Loupe's default translation) it is
// loupe_bench_duration_seconds_bucket / _sum / _count{bench_function="..."}.
const MetricName = "loupe.bench.duration"

// Attribute keys on the spans and the histogram.
const (
	KeyFunction   = attribute.Key("bench.function")   // the name given to Time
	KeyIteration  = attribute.Key("bench.iteration")  // 1-based, counted separately for warm-up calls
	KeyWarmup     = attribute.Key("bench.warmup")     // true for warm-up calls
	KeyIterations = attribute.Key("bench.iterations") // measured calls asked for
	KeyWarmups    = attribute.Key("bench.warmup_iterations")
)

// bucketBounds suit durations from a microsecond to minutes; the OpenTelemetry default
// buckets are meant for milliseconds and would put every call into the first one.
var bucketBounds = []float64{1e-6, 1e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Func is the function being timed. It gets the context of its call's span, so spans it
// starts nest under that call; an error stops the benchmark.
type Func func(ctx context.Context) error

// Option changes how Time runs and what it records.
type Option func(*config)

type config struct {
	iterations int
	warmup     int
	attrs      []attribute.KeyValue
	tracers    trace.TracerProvider
	meters     metric.MeterProvider
}

// Iterations sets how many measured calls Time makes (default 1).
func Iterations(n int) Option { return func(c *config) { c.iterations = n } }

// Warmup sets how many calls Time makes before measuring (default 0). Warm-up calls get
// spans with bench.warmup=true but are left out of the histogram and of Result's statistics.
func Warmup(n int) Option { return func(c *config) { c.warmup = n } }

// Attributes adds metadata to every span of the benchmark (e.g. the data set or the
// algorithm variant). They are not put on the histogram, whose only attribute is the
// function name, so that metadata cannot multiply its series.
func Attributes(kv ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, kv...) }
}

// Args records metadata about the function's arguments on every span, as microbench does:
// for argument i, bench.arg.<i>.type, and bench.arg.<i>.value for numbers, booleans and
// short strings or bench.arg.<i>.len for strings, slices, arrays, maps and channels. The
// values themselves are never stored beyond that.
func Args(args ...any) Option {
	return func(c *config) { c.attrs = append(c.attrs, argAttributes(args)...) }
}

// WithTracerProvider sends the spans to tp instead of the OpenTelemetry global provider
// (which sdk.Start installs unless told not to).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracers = tp }
}

// WithMeterProvider records the histogram with mp instead of the global meter provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meters = mp }
}

// Time calls fn Warmup times and then Iterations times, one after the other, and records:
//
//   - a span "bench <name>" around all calls, with the function name, the iteration counts,
//     the Attributes and Args metadata, and the statistics of the measured calls
//     (bench.min_seconds, bench.mean_seconds, bench.p50_seconds, bench.max_seconds);
//   - one child span per call, named name, with bench.iteration and bench.warmup;
//   - each measured call's duration in the histogram MetricName.
//
// Only the call itself is timed (a monotonic clock around fn), not the recording. When fn
// returns an error Time stops, marks the call's span and the outer span as failed, and
// returns the calls measured so far with the error. Bad options (a count below zero, no
// measured call) are an error before any call.
func Time(ctx context.Context, name string, fn Func, opts ...Option) (Result, error) {
	c := config{iterations: 1}
	for _, opt := range opts {
		opt(&c)
	}
	if name == "" {
		return Result{}, fmt.Errorf("bench: empty function name")
	}
	if c.iterations < 1 || c.warmup < 0 {
		return Result{Name: name}, fmt.Errorf("bench %s: iterations %d and warm-up %d: want at least 1 and 0", name, c.iterations, c.warmup)
	}
	if c.tracers == nil {
		c.tracers = otel.GetTracerProvider()
	}
	if c.meters == nil {
		c.meters = otel.GetMeterProvider()
	}
	tracer := c.tracers.Tracer(scope)
	hist, err := c.meters.Meter(scope).Float64Histogram(MetricName, metric.WithUnit("s"),
		metric.WithDescription("Duration of one call of a function timed by bench.Time."),
		metric.WithExplicitBucketBoundaries(bucketBounds...))
	if err != nil {
		return Result{Name: name}, fmt.Errorf("bench %s: histogram: %w", name, err)
	}
	fnAttr := KeyFunction.String(name)
	histAttrs := metric.WithAttributeSet(attribute.NewSet(fnAttr))

	outerAttrs := append([]attribute.KeyValue{fnAttr, KeyIterations.Int(c.iterations), KeyWarmups.Int(c.warmup),
		attribute.Int("bench.gomaxprocs", runtime.GOMAXPROCS(0))}, c.attrs...)
	ctx, outer := tracer.Start(ctx, "bench "+name, trace.WithAttributes(outerAttrs...))
	defer outer.End()

	res := Result{Name: name}
	call := func(i int, warm bool) (time.Duration, error) {
		attrs := append([]attribute.KeyValue{fnAttr, KeyIteration.Int(i), KeyWarmup.Bool(warm)}, c.attrs...)
		callCtx, span := tracer.Start(ctx, name, trace.WithAttributes(attrs...))
		defer span.End()
		start := time.Now()
		err := fn(callCtx)
		d := time.Since(start)
		span.SetAttributes(attribute.Float64("bench.duration_seconds", d.Seconds()))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return d, err
	}
	fail := func(i int, warm bool, err error) (Result, error) {
		phase := "iteration"
		if warm {
			phase = "warm-up"
		}
		err = fmt.Errorf("bench %s: %s %d: %w", name, phase, i, err)
		outer.SetStatus(codes.Error, err.Error())
		res.summarize()
		setSummary(outer, res)
		return res, err
	}
	for i := 1; i <= c.warmup; i++ {
		d, err := call(i, true)
		res.Warmups = append(res.Warmups, d)
		if err != nil {
			return fail(i, true, err)
		}
	}
	for i := 1; i <= c.iterations; i++ {
		d, err := call(i, false)
		if err != nil {
			return fail(i, false, err)
		}
		res.Durations = append(res.Durations, d)
		hist.Record(ctx, d.Seconds(), histAttrs)
	}
	res.summarize()
	setSummary(outer, res)
	return res, nil
}

func setSummary(span trace.Span, r Result) {
	if len(r.Durations) == 0 {
		return
	}
	span.SetAttributes(
		attribute.Int("bench.calls", len(r.Durations)),
		attribute.Float64("bench.min_seconds", r.Min.Seconds()),
		attribute.Float64("bench.mean_seconds", r.Mean.Seconds()),
		attribute.Float64("bench.p50_seconds", r.P50.Seconds()),
		attribute.Float64("bench.max_seconds", r.Max.Seconds()),
		attribute.Float64("bench.stddev_seconds", r.Stddev.Seconds()))
}
