package bench

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkTimeOverhead measures what Time adds around each call of an empty function with
// the real OpenTelemetry SDK (spans batched to an in-memory exporter, histogram in a
// manual reader): the floor below which Time cannot resolve a function's own duration.
func BenchmarkTimeOverhead(b *testing.B) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	noop := func(context.Context) error { return nil }
	const perTime = 100
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Time(context.Background(), "noop", noop, Iterations(perTime),
			WithTracerProvider(tp), WithMeterProvider(mp), Args(1, "x")); err != nil {
			b.Fatal(err)
		}
		exp.Reset()
	}
	b.ReportMetric(float64(b.N*perTime)/b.Elapsed().Seconds(), "calls/s")
}
