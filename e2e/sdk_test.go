package e2e

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/sdk"
	"github.com/loupe-dev/loupe/sdk/bench"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
)

// TestSDKSignalsQueryable uses the Loupe Go SDK the way a program does (one Start, the
// slog logger, a tracer, a meter, bench.Time, Shutdown) and finds every signal through the
// server's query APIs: spans by trace id, slog records with their trace context, the
// counter, the bench histogram and the Go runtime metrics with PromQL.
func TestSDKSignalsQueryable(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, c := range []struct {
		name string
		opts func(t *testing.T) sdk.Options
	}{
		// Configured from the environment only, as under `loupe run` or in a container.
		{"http-env", func(t *testing.T) sdk.Options {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", s.OTLPHTTP)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.0,deployment.environment=e2e")
			t.Setenv("OTEL_SERVICE_NAME", "sdk-e2e-http-env")
			return sdk.Options{ServiceName: "overridden by OTEL_SERVICE_NAME"}
		}},
		{"grpc-options", func(*testing.T) sdk.Options {
			return sdk.Options{ServiceName: "sdk-e2e-grpc-options", ServiceVersion: "2.0",
				Protocol: sdk.ProtocolGRPC, Endpoint: "http://" + s.OTLPGRPC}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts(t)
			opts.NoGlobal = true
			checkSDKSignals(t, s, "sdk-e2e-"+c.name, opts)
		})
	}
}

func checkSDKSignals(t *testing.T, s *server, service string, opts sdk.Options) {
	ctx := testContext(t)
	tel, err := sdk.Start(ctx, opts)
	require.NoError(t, err)

	ctx, root := tel.Tracer("e2e").Start(ctx, "experiment")
	tel.Logger().InfoContext(ctx, "experiment started", "dataset", "v3", "grid", 64)
	samples, err := tel.Meter("e2e").Int64Counter("experiment.samples", metric.WithUnit("{sample}"))
	require.NoError(t, err)
	samples.Add(ctx, 42)
	res, err := bench.Time(ctx, "fib", func(context.Context) error {
		_ = fibonacci(18) // the work being timed
		return nil
	}, bench.Iterations(3), bench.Warmup(1), bench.Args(18),
		bench.WithTracerProvider(tel.TracerProvider()), bench.WithMeterProvider(tel.MeterProvider()))
	require.NoError(t, err)
	tel.Logger().WarnContext(ctx, "experiment done", "p50_seconds", res.P50.Seconds())
	root.End()
	require.NoError(t, tel.Shutdown(ctx))
	traceID := root.SpanContext().TraceID().String()

	// Traces: the root, the bench span under it, one span per call under that.
	eventually(t, 30*time.Second, func() error {
		tr := getTrace(t, s, traceID)
		if len(tr.Spans) != 6 {
			return fmt.Errorf("want 6 spans, got %d", len(tr.Spans))
		}
		return nil
	})
	tr := getTrace(t, s, traceID)
	byName := map[string][]apiSpan{}
	for _, sp := range tr.Spans {
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	require.Len(t, byName["experiment"], 1)
	exp := byName["experiment"][0]
	require.Equal(t, service, exp.Service)
	require.Equal(t, "2.0", exp.Resource["service.version"])
	require.NotEmpty(t, exp.Resource["host.name"])
	require.NotEmpty(t, exp.Resource["process.pid"])
	require.Len(t, byName["bench fib"], 1)
	benchSpan := byName["bench fib"][0]
	require.Equal(t, exp.SpanID, benchSpan.ParentSpanID)
	require.EqualValues(t, 3, benchSpan.Attributes["bench.calls"])
	require.EqualValues(t, 18, benchSpan.Attributes["bench.arg.0.value"])
	require.Len(t, byName["fib"], 4)
	warm := 0
	for _, sp := range byName["fib"] {
		require.Equal(t, benchSpan.SpanID, sp.ParentSpanID)
		if sp.Attributes["bench.warmup"] == true {
			warm++
		}
	}
	require.Equal(t, 1, warm)

	// Logs: both slog records, in the experiment span.
	eventually(t, 30*time.Second, func() error {
		if n := len(findLogs(t, s, url.Values{"trace_id": {traceID}})); n != 2 {
			return fmt.Errorf("want 2 logs in the trace, got %d", n)
		}
		return nil
	})
	logs := findLogs(t, s, url.Values{"service": {service}, "q": {"experiment started"}})
	require.Len(t, logs, 1)
	require.Equal(t, "INFO", logs[0].SeverityText)
	require.Equal(t, traceID, logs[0].TraceID)
	require.Equal(t, exp.SpanID, logs[0].SpanID)
	require.Equal(t, "v3", logs[0].Attributes["dataset"])
	require.EqualValues(t, 64, logs[0].Attributes["grid"])
	require.Len(t, findLogs(t, s, url.Values{"service": {service}, "severity": {"warn"}}), 1)

	// Metrics, with Prometheus' OTLP translation: the unit {sample} is dropped, a counter
	// gets _total, seconds become _seconds, service.name becomes job.
	eventually(t, 30*time.Second, func() error {
		for q, want := range map[string]float64{
			fmt.Sprintf(`experiment_samples_total{job=%q}`, service):                                42,
			fmt.Sprintf(`loupe_bench_duration_seconds_count{job=%q,bench_function="fib"}`, service): 3,
			fmt.Sprintf(`count(go_goroutine_count{job=%q}) > 0`, service):                           1,
			fmt.Sprintf(`count(go_memory_used_bytes{job=%q}) > 0`, service):                         2, // stack, other
		} {
			got := instant(t, s, q)
			if len(got) != 1 || firstValue(got) != want {
				return fmt.Errorf("%s = %v, want %v", q, got, want)
			}
		}
		return nil
	})
}

func fibonacci(n int) int {
	if n < 2 {
		return n
	}
	return fibonacci(n-1) + fibonacci(n-2)
}
