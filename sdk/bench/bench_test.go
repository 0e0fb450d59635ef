package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type recorders struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	opts   []Option
}

func newRecorders() recorders {
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	return recorders{spans: spans, reader: reader, opts: []Option{
		WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
	}}
}

// histogram returns the bench histogram's single data point.
func (r recorders) histogram(t *testing.T) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	require.Len(t, rm.ScopeMetrics[0].Metrics, 1)
	m := rm.ScopeMetrics[0].Metrics[0]
	require.Equal(t, MetricName, m.Name)
	require.Equal(t, "s", m.Unit)
	h := m.Data.(metricdata.Histogram[float64])
	require.Len(t, h.DataPoints, 1)
	return h.DataPoints[0]
}

func attrs(kvs []attribute.KeyValue) map[string]any {
	out := map[string]any{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

func TestTimeRecordsSpansAndHistogram(t *testing.T) {
	r := newRecorders()
	calls := 0
	res, err := Time(context.Background(), "fib", func(ctx context.Context) error {
		calls++
		time.Sleep(time.Millisecond)
		return nil
	}, append(r.opts, Iterations(3), Warmup(2), Args(30, "abc", []float64{1, 2}), Attributes(attribute.String("variant", "loop")))...)
	require.NoError(t, err)
	require.Equal(t, 5, calls)
	require.Equal(t, "fib", res.Name)
	require.Len(t, res.Durations, 3)
	require.Len(t, res.Warmups, 2)
	require.GreaterOrEqual(t, res.Min, time.Millisecond)
	require.LessOrEqual(t, res.Min, res.P50)
	require.LessOrEqual(t, res.P50, res.Max)
	require.Contains(t, res.String(), "fib: 3 calls, min ")

	spans := r.spans.Ended()
	require.Len(t, spans, 6)
	outer := spans[5]
	require.Equal(t, "bench fib", outer.Name())
	oa := attrs(outer.Attributes())
	require.Equal(t, "fib", oa["bench.function"])
	require.EqualValues(t, 3, oa["bench.iterations"])
	require.EqualValues(t, 2, oa["bench.warmup_iterations"])
	require.EqualValues(t, 3, oa["bench.calls"])
	require.Equal(t, res.Min.Seconds(), oa["bench.min_seconds"])
	require.Equal(t, res.Max.Seconds(), oa["bench.max_seconds"])
	require.Equal(t, "loop", oa["variant"])
	require.Equal(t, "int", oa["bench.arg.0.type"])
	require.EqualValues(t, 30, oa["bench.arg.0.value"])
	require.Equal(t, "abc", oa["bench.arg.1.value"])
	require.EqualValues(t, 2, oa["bench.arg.2.len"])

	want := []struct {
		iteration int64
		warmup    bool
	}{{1, true}, {2, true}, {1, false}, {2, false}, {3, false}}
	for i, w := range want {
		sp := spans[i]
		require.Equal(t, "fib", sp.Name())
		require.Equal(t, outer.SpanContext().SpanID(), sp.Parent().SpanID())
		a := attrs(sp.Attributes())
		require.Equal(t, w.iteration, a["bench.iteration"], "span %d", i)
		require.Equal(t, w.warmup, a["bench.warmup"], "span %d", i)
		require.Equal(t, "loop", a["variant"])
	}

	dp := r.histogram(t)
	require.EqualValues(t, 3, dp.Count, "warm-up calls are not measured")
	require.InDelta(t, (res.Durations[0] + res.Durations[1] + res.Durations[2]).Seconds(), dp.Sum, 1e-9)
	require.Equal(t, map[string]any{"bench.function": "fib"}, attrs(dp.Attributes.ToSlice()))
}

func TestTimeNestsUnderCallerAndPassesSpanContext(t *testing.T) {
	r := newRecorders()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "experiment")
	_, err := Time(ctx, "step", func(ctx context.Context) error {
		_, inner := tp.Tracer("test").Start(ctx, "inner")
		inner.End()
		return nil
	}, r.opts...)
	require.NoError(t, err)
	parent.End()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range r.spans.Ended() {
		byName[sp.Name()] = sp
	}
	require.Equal(t, parent.SpanContext().SpanID(), byName["bench step"].Parent().SpanID())
	require.Equal(t, byName["step"].SpanContext().SpanID(), byName["inner"].Parent().SpanID())
}

func TestTimeStopsAtFirstError(t *testing.T) {
	r := newRecorders()
	boom := errors.New("diverged")
	calls := 0
	res, err := Time(context.Background(), "solve", func(context.Context) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	}, append(r.opts, Iterations(5))...)
	require.ErrorIs(t, err, boom)
	require.EqualError(t, err, "bench solve: iteration 3: diverged")
	require.Equal(t, 3, calls)
	require.Len(t, res.Durations, 2, "the successful calls")

	spans := r.spans.Ended()
	require.Len(t, spans, 4)
	failed, outer := spans[2], spans[3]
	require.Equal(t, codes.Error, failed.Status().Code)
	require.Equal(t, "diverged", failed.Status().Description)
	require.Len(t, failed.Events(), 1)
	require.Equal(t, "exception", failed.Events()[0].Name)
	require.Equal(t, codes.Error, outer.Status().Code)
	require.EqualValues(t, 2, r.histogram(t).Count)

	_, err = Time(context.Background(), "warm", func(context.Context) error { return boom }, append(r.opts, Warmup(1))...)
	require.EqualError(t, err, "bench warm: warm-up 1: diverged")
}

func TestTimeBadOptions(t *testing.T) {
	noop := func(context.Context) error { t.Fatal("must not be called"); return nil }
	f := func(name string, want string, opts ...Option) {
		t.Helper()
		_, err := Time(context.Background(), name, noop, opts...)
		require.EqualError(t, err, want)
	}
	f("", "bench: empty function name")
	f("x", "bench x: iterations 0 and warm-up 0: want at least 1 and 0", Iterations(0))
	f("x", "bench x: iterations 1 and warm-up -1: want at least 1 and 0", Warmup(-1))
}

func TestSummarize(t *testing.T) {
	f := func(ds []time.Duration, min, mean, p50, max, stddev time.Duration) {
		t.Helper()
		r := Result{Durations: ds}
		r.summarize()
		require.Equal(t, []time.Duration{min, mean, p50, max, stddev}, []time.Duration{r.Min, r.Mean, r.P50, r.Max, r.Stddev})
	}
	f(nil, 0, 0, 0, 0, 0)
	f([]time.Duration{5}, 5, 5, 5, 5, 0)
	f([]time.Duration{4000, 1000, 3000, 2000}, 1000, 2500, 2500, 4000, 1291)
	f([]time.Duration{30, 10, 20}, 10, 20, 20, 30, 10)
	f([]time.Duration{1000, 3000}, 1000, 2000, 2000, 3000, 1414)
}

func TestArgAttributes(t *testing.T) {
	long := string(make([]byte, maxArgValue+1))
	got := attrs(argAttributes([]any{nil, true, uint8(7), 2.5, long, map[string]int{"a": 1}, struct{}{}}))
	require.Equal(t, map[string]any{
		"bench.arg.0.type": "nil",
		"bench.arg.1.type": "bool", "bench.arg.1.value": true,
		"bench.arg.2.type": "uint8", "bench.arg.2.value": int64(7),
		"bench.arg.3.type": "float64", "bench.arg.3.value": 2.5,
		"bench.arg.4.type": "string", "bench.arg.4.len": int64(maxArgValue + 1),
		"bench.arg.5.type": "map[string]int", "bench.arg.5.len": int64(1),
		"bench.arg.6.type": "struct {}",
	}, got)
}
