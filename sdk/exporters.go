package sdk

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The exporters neither dial nor block when they are created: the HTTP ones connect on the
// first export and the gRPC ones connect lazily, so an unreachable server never delays
// Start. Each retries failed exports with backoff (the exporters' default, bounded by their
// timeout) and then drops the batch, reporting it to the OpenTelemetry error handler.
//
// When o.Endpoint is empty the exporters take everything from the OTEL_EXPORTER_OTLP_*
// environment variables; otherwise the URL given replaces only the endpoint, and headers,
// timeout, compression and TLS still come from the environment.

func newSpanExporter(ctx context.Context, o Options) (sdktrace.SpanExporter, error) {
	var exp sdktrace.SpanExporter
	var err error
	if o.Protocol == ProtocolGRPC {
		var opts []otlptracegrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(o.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	} else {
		var opts []otlptracehttp.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint+"/v1/traces"))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	return exp, nil
}

func newMetricExporter(ctx context.Context, o Options) (sdkmetric.Exporter, error) {
	var exp sdkmetric.Exporter
	var err error
	if o.Protocol == ProtocolGRPC {
		var opts []otlpmetricgrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(o.Endpoint))
		}
		exp, err = otlpmetricgrpc.New(ctx, opts...)
	} else {
		var opts []otlpmetrichttp.Option
		if o.Endpoint != "" {
			opts = append(opts, otlpmetrichttp.WithEndpointURL(o.Endpoint+"/v1/metrics"))
		}
		exp, err = otlpmetrichttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("metric exporter: %w", err)
	}
	return exp, nil
}

func newLogExporter(ctx context.Context, o Options) (sdklog.Exporter, error) {
	var exp sdklog.Exporter
	var err error
	if o.Protocol == ProtocolGRPC {
		var opts []otlploggrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlploggrpc.WithEndpointURL(o.Endpoint))
		}
		exp, err = otlploggrpc.New(ctx, opts...)
	} else {
		var opts []otlploghttp.Option
		if o.Endpoint != "" {
			opts = append(opts, otlploghttp.WithEndpointURL(o.Endpoint+"/v1/logs"))
		}
		exp, err = otlploghttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("log exporter: %w", err)
	}
	return exp, nil
}
