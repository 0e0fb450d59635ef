// Command tracedchild is a job instrumented with the OpenTelemetry Go SDK and nothing else:
// it continues the trace named by TRACEPARENT (set by `loupe run`), exports to
// OTEL_EXPORTER_OTLP_ENDPOINT and takes its resource from OTEL_RESOURCE_ATTRIBUTES.
package main

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	res, _ := resource.New(ctx, resource.WithFromEnv())
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": os.Getenv("TRACEPARENT")})
	_, span := tp.Tracer("tracedchild").Start(ctx, "child-work")
	fmt.Println("child did its work")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
