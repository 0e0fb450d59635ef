package sdk_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/loupe-dev/loupe/sdk"
	"github.com/loupe-dev/loupe/sdk/bench"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// A batch job: one call sets up traces, metrics and logs; the job's work is one span with
// a log line and a counter inside it; Shutdown sends what is left before the program exits.
func ExampleStart() {
	ctx := context.Background()
	s, err := sdk.Start(ctx, sdk.Options{
		ServiceName:    "simulate",
		ServiceVersion: "1.4.0",
		Attributes:     []attribute.KeyValue{attribute.String("deployment.environment", "cluster")},
		Console:        os.Stderr, // keep printing the logs too
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	// Under `loupe run`, the job's spans nest under the run's span.
	ctx = s.Context(ctx)
	ctx, span := s.Tracer("simulate").Start(ctx, "simulate")
	defer span.End()

	steps, _ := s.Meter("simulate").Int64Counter("simulate.steps", metric.WithUnit("{step}"))
	for step := range 3 {
		steps.Add(ctx, 1)
		s.Logger().InfoContext(ctx, "step done", "step", step)
	}
}

// Options can come from the environment alone: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_ENDPOINT (or LOUPE_SERVER) and OTEL_EXPORTER_OTLP_PROTOCOL.
func ExampleStart_environment() {
	s, err := sdk.Start(context.Background(), sdk.Options{LogLevel: slog.LevelDebug})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	s.Logger().Debug("configured from the environment")
}

// Timing a function with the SDK's providers: spans "bench fit" and "fit", and the
// histogram loupe.bench.duration{bench.function="fit"}.
func ExampleSDK_bench() {
	ctx := context.Background()
	s, err := sdk.Start(ctx, sdk.Options{ServiceName: "fit"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(ctx)

	data := make([]float64, 1_000_000)
	res, err := bench.Time(ctx, "fit", func(ctx context.Context) error {
		return fit(ctx, data)
	}, bench.Iterations(10), bench.Warmup(2), bench.Args(data))
	if err != nil {
		log.Fatal(err)
	}
	s.Logger().Info("benchmark", "result", res.String(), "p50_seconds", res.P50.Seconds())
}

func fit(context.Context, []float64) error { return nil }

// ContextFromEnv without the rest of the SDK, for a program that sets up OpenTelemetry
// itself.
func ExampleContextFromEnv() {
	ctx := sdk.ContextFromEnv(context.Background())
	_ = ctx // start the job's root span from ctx
}
