package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	testRes     = resource.NewSchemaless(attribute.String("service.name", "checkout"))
)

func testSpans() []sdktrace.ReadOnlySpan {
	start := time.Unix(1700000000, 0)
	return tracetest.SpanStubs{{
		Name: "GET /cart",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled,
		}),
		SpanKind:             trace.SpanKindServer,
		StartTime:            start,
		EndTime:              start.Add(150 * time.Millisecond),
		Attributes:           []attribute.KeyValue{attribute.String("http.route", "/cart"), attribute.Int("http.status_code", 200)},
		Resource:             testRes,
		InstrumentationScope: instrumentation.Scope{Name: "test"},
	}}.Snapshots()
}

func requireSpanArrived(t *testing.T, env *testEnv) {
	t.Helper()
	td := env.store.snapshotTraces()
	require.Equal(t, 1, td.SpanCount())
	rs := td.ResourceSpans().At(0)
	svc, _ := rs.Resource().Attributes().Get("service.name")
	require.Equal(t, "checkout", svc.Str())
	s := rs.ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, "GET /cart", s.Name())
	require.Equal(t, pcommon.TraceID(testTraceID), s.TraceID())
	require.Equal(t, pcommon.SpanID(testSpanID), s.SpanID())
	require.Equal(t, 150*time.Millisecond, s.EndTimestamp().AsTime().Sub(s.StartTimestamp().AsTime()))
	route, _ := s.Attributes().Get("http.route")
	require.Equal(t, "/cart", route.Str())
	code, _ := s.Attributes().Get("http.status_code")
	require.Equal(t, int64(200), code.Int())
}

func TestSDKTracesGRPC(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(env.recv.GRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithCompressor("gzip"))
	require.NoError(t, err)
	defer exp.Shutdown(ctx)
	require.NoError(t, exp.ExportSpans(ctx, testSpans()))
	requireSpanArrived(t, env)
}

func TestSDKTracesHTTP(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(env.recv.HTTPAddr()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	require.NoError(t, err)
	defer exp.Shutdown(ctx)
	require.NoError(t, exp.ExportSpans(ctx, testSpans()))
	requireSpanArrived(t, env)
}

func testMetrics() *metricdata.ResourceMetrics {
	now := time.Unix(1700000000, 0)
	return &metricdata.ResourceMetrics{
		Resource: testRes,
		ScopeMetrics: []metricdata.ScopeMetrics{{
			Scope: instrumentation.Scope{Name: "test"},
			Metrics: []metricdata.Metrics{
				{
					Name: "http.server.requests",
					Unit: "{request}",
					Data: metricdata.Sum[int64]{
						Temporality: metricdata.CumulativeTemporality,
						IsMonotonic: true,
						DataPoints: []metricdata.DataPoint[int64]{
							{Attributes: attribute.NewSet(attribute.String("route", "/cart")), StartTime: now, Time: now.Add(time.Minute), Value: 42},
						},
					},
				},
				{
					Name: "http.server.duration",
					Unit: "s",
					Data: metricdata.Histogram[float64]{
						Temporality: metricdata.CumulativeTemporality,
						DataPoints: []metricdata.HistogramDataPoint[float64]{{
							StartTime: now, Time: now.Add(time.Minute), Count: 3, Sum: 0.6,
							Bounds: []float64{0.1, 0.5}, BucketCounts: []uint64{1, 1, 1},
						}},
					},
				},
			},
		}},
	}
}

func requireMetricsArrived(t *testing.T, env *testEnv) {
	t.Helper()
	md := env.store.snapshotMetrics()
	require.Equal(t, 2, md.DataPointCount())
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	require.Equal(t, "http.server.requests", ms.At(0).Name())
	dp := ms.At(0).Sum().DataPoints().At(0)
	require.Equal(t, int64(42), dp.IntValue())
	route, _ := dp.Attributes().Get("route")
	require.Equal(t, "/cart", route.Str())
	h := ms.At(1).Histogram().DataPoints().At(0)
	require.Equal(t, []float64{0.1, 0.5}, h.ExplicitBounds().AsRaw())
	require.Equal(t, []uint64{1, 1, 1}, h.BucketCounts().AsRaw())
}

func TestSDKMetricsGRPC(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(env.recv.GRPCAddr()), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	defer exp.Shutdown(ctx)
	require.NoError(t, exp.Export(ctx, testMetrics()))
	requireMetricsArrived(t, env)
}

func TestSDKMetricsHTTP(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(env.recv.HTTPAddr()), otlpmetrichttp.WithInsecure())
	require.NoError(t, err)
	defer exp.Shutdown(ctx)
	require.NoError(t, exp.Export(ctx, testMetrics()))
	requireMetricsArrived(t, env)
}

// errExporter passes records to an OTLP log exporter and keeps its last error, which
// the SDK's processor would otherwise only report to the global error handler.
type errExporter struct {
	sdklog.Exporter
	err error
}

func (e *errExporter) Export(ctx context.Context, records []sdklog.Record) error {
	e.err = e.Exporter.Export(ctx, records)
	return e.err
}

func emitLog(t *testing.T, exp sdklog.Exporter) {
	t.Helper()
	ctx := context.Background()
	ee := &errExporter{Exporter: exp}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(ee)), sdklog.WithResource(testRes))
	defer lp.Shutdown(ctx)
	var rec otellog.Record
	rec.SetTimestamp(time.Unix(1700000000, 0))
	rec.SetSeverity(otellog.SeverityWarn)
	rec.SetSeverityText("WARN")
	rec.SetBody(attribute.StringValue("cart is empty"))
	rec.AddAttributes(attribute.String("user.id", "u-1"), attribute.Int("items", 0))
	tctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID, SpanID: testSpanID}))
	lp.Logger("test").Emit(tctx, rec)
	require.NoError(t, ee.err)
}

func requireLogArrived(t *testing.T, env *testEnv) {
	t.Helper()
	ld := env.store.snapshotLogs()
	require.Equal(t, 1, ld.LogRecordCount())
	rl := ld.ResourceLogs().At(0)
	svc, _ := rl.Resource().Attributes().Get("service.name")
	require.Equal(t, "checkout", svc.Str())
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, "cart is empty", lr.Body().Str())
	require.Equal(t, "WARN", lr.SeverityText())
	require.Equal(t, int32(13), int32(lr.SeverityNumber()))
	require.Equal(t, pcommon.TraceID(testTraceID), lr.TraceID())
	require.Equal(t, pcommon.SpanID(testSpanID), lr.SpanID())
	uid, _ := lr.Attributes().Get("user.id")
	require.Equal(t, "u-1", uid.Str())
}

func TestSDKLogsGRPC(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	exp, err := otlploggrpc.New(context.Background(), otlploggrpc.WithEndpoint(env.recv.GRPCAddr()), otlploggrpc.WithInsecure())
	require.NoError(t, err)
	emitLog(t, exp)
	requireLogArrived(t, env)
}

func TestSDKLogsHTTP(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(env.recv.HTTPAddr()), otlploghttp.WithInsecure(),
		otlploghttp.WithCompression(otlploghttp.GzipCompression))
	require.NoError(t, err)
	emitLog(t, exp)
	requireLogArrived(t, env)
}

// Partial success reaches the SDK as an error naming the rejected count (the SDK logs it).
func TestSDKTracesPartialSuccess(t *testing.T) {
	pcfg := pipeline.DefaultConfig()
	pcfg.Limits.MaxAttributes = 1
	env := startEnv(t, pcfg, DefaultConfig(), nil)
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(env.recv.GRPCAddr()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	defer exp.Shutdown(ctx)
	err = exp.ExportSpans(ctx, testSpans())
	require.ErrorContains(t, err, "1 spans rejected")
	require.ErrorContains(t, err, "more than 1 attributes")
	require.Equal(t, 0, env.store.snapshotTraces().SpanCount())
}
