package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// transport selects which OTLP transport an SDK exporter uses.
type transport string

const (
	viaGRPC transport = "grpc"
	viaHTTP transport = "http"
)

func serviceResource(name string) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.instance.id", name+"-1"),
		attribute.String("deployment.environment", "e2e"),
	)
}

// newTracerProvider returns a provider exporting synchronously to s over tr; its Shutdown
// returns only once every span is acknowledged.
func newTracerProvider(t *testing.T, ctx context.Context, s *server, tr transport, service string) *sdktrace.TracerProvider {
	t.Helper()
	var exp sdktrace.SpanExporter
	var err error
	switch tr {
	case viaGRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPC), otlptracegrpc.WithInsecure())
	case viaHTTP:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.OTLPHTTP+"/v1/traces"))
	}
	require.NoError(t, err)
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(serviceResource(service)))
}

func newLoggerProvider(t *testing.T, ctx context.Context, s *server, tr transport, service string) *sdklog.LoggerProvider {
	t.Helper()
	var exp sdklog.Exporter
	var err error
	switch tr {
	case viaGRPC:
		exp, err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(s.OTLPGRPC), otlploggrpc.WithInsecure())
	case viaHTTP:
		exp, err = otlploghttp.New(ctx, otlploghttp.WithEndpointURL(s.OTLPHTTP+"/v1/logs"))
	}
	require.NoError(t, err)
	return sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(serviceResource(service)))
}

// newMeterProvider returns a provider with a manual-ish periodic reader: metrics are sent
// when the test calls ForceFlush.
func newMeterProvider(t *testing.T, ctx context.Context, s *server, tr transport, service string) *sdkmetric.MeterProvider {
	t.Helper()
	var exp sdkmetric.Exporter
	var err error
	switch tr {
	case viaGRPC:
		exp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(s.OTLPGRPC), otlpmetricgrpc.WithInsecure())
	case viaHTTP:
		exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(s.OTLPHTTP+"/v1/metrics"))
	}
	require.NoError(t, err)
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(serviceResource(service)))
}

// checkoutTrace is what sendCheckoutTrace produced, for assertions.
type checkoutTrace struct {
	TraceID trace.TraceID
	RootID  trace.SpanID
	ChildID trace.SpanID // the failing span in the second service
}

// sendCheckoutTrace sends one trace across two services: "frontend" (over rootVia) with a
// root span and an event, calling "payments" (over childVia) whose span fails. It also emits
// two logs inside the spans, one per service, carrying their trace context.
func sendCheckoutTrace(t *testing.T, ctx context.Context, s *server, rootVia, childVia transport) checkoutTrace {
	t.Helper()
	frontend := newTracerProvider(t, ctx, s, rootVia, "frontend")
	payments := newTracerProvider(t, ctx, s, childVia, "payments")
	frontendLogs := newLoggerProvider(t, ctx, s, rootVia, "frontend")
	paymentsLogs := newLoggerProvider(t, ctx, s, childVia, "payments")

	start := time.Now().Add(-2 * time.Second)
	rootCtx, root := frontend.Tracer("e2e").Start(ctx, "POST /checkout",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("http.route", "/checkout"), attribute.Int("http.response.status_code", 500)))
	root.AddEvent("cart loaded", trace.WithAttributes(attribute.Int("items", 3)))
	emitLog(rootCtx, frontendLogs.Logger("e2e"), otellog.SeverityInfo, "checkout started for cart 42",
		attribute.String("cart.id", "42"))

	childCtx, child := payments.Tracer("e2e").Start(rootCtx, "charge card",
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(100*time.Millisecond)),
		trace.WithAttributes(attribute.String("payment.provider", "acme"), attribute.Float64("amount", 12.5)))
	emitLog(childCtx, paymentsLogs.Logger("e2e"), otellog.SeverityError, "Card DECLINED by acme: insufficient funds",
		attribute.String("payment.provider", "acme"), attribute.Int64("attempt", 2))
	child.SetStatus(codes.Error, "card declined")
	child.End(trace.WithTimestamp(start.Add(900 * time.Millisecond)))
	root.End(trace.WithTimestamp(start.Add(time.Second)))

	for _, shut := range []func(context.Context) error{frontend.Shutdown, payments.Shutdown, frontendLogs.Shutdown, paymentsLogs.Shutdown} {
		require.NoError(t, shut(ctx))
	}
	return checkoutTrace{
		TraceID: root.SpanContext().TraceID(),
		RootID:  root.SpanContext().SpanID(),
		ChildID: child.SpanContext().SpanID(),
	}
}

func emitLog(ctx context.Context, l otellog.Logger, sev otellog.Severity, body string, attrs ...attribute.KeyValue) {
	var rec otellog.Record
	rec.SetTimestamp(time.Now())
	rec.SetSeverity(sev)
	rec.SetSeverityText(sev.String())
	rec.SetBody(attribute.StringValue(body))
	rec.AddAttributes(attrs...)
	l.Emit(ctx, rec)
}
