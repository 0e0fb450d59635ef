package bench_test

import (
	"context"
	"fmt"
	"log"

	"github.com/loupe-dev/loupe/sdk/bench"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// One line to benchmark a function. Here the telemetry goes nowhere (no-op providers);
// after sdk.Start it goes to Loupe without any option.
func ExampleTime() {
	n := 20
	res, err := bench.Time(context.Background(), "fib", func(context.Context) error {
		_ = fib(n) // the work being timed
		return nil
	}, bench.Iterations(5), bench.Warmup(1), bench.Args(n),
		bench.WithTracerProvider(tracenoop.NewTracerProvider()),
		bench.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Durations), "measured,", len(res.Warmups), "warm-up")
	fmt.Println(res.Min <= res.P50 && res.P50 <= res.Max)
	// Output:
	// 5 measured, 1 warm-up
	// true
}
