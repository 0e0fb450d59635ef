package sdk

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestOptionsEndpointAndProtocol(t *testing.T) {
	f := func(o Options, e map[string]string, wantEndpoint, wantProtocol string) {
		t.Helper()
		got, err := o.withDefaults(env(e))
		require.NoError(t, err)
		require.Equal(t, wantEndpoint, got.Endpoint)
		require.Equal(t, wantProtocol, got.Protocol)
	}
	f(Options{}, nil, DefaultEndpoint, ProtocolHTTP)
	f(Options{Protocol: ProtocolGRPC}, nil, "http://localhost:4317", ProtocolGRPC)
	f(Options{}, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http://localhost:4317", ProtocolGRPC)
	f(Options{}, map[string]string{"LOUPE_SERVER": "http://loupe:4318/"}, "http://loupe:4318", ProtocolHTTP)
	// The exporters read OTEL_EXPORTER_OTLP_*ENDPOINT themselves: the SDK passes no URL.
	f(Options{}, map[string]string{"LOUPE_SERVER": "http://loupe:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "", ProtocolHTTP)
	f(Options{}, map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://otel:4318/v1/logs"}, "", ProtocolHTTP)
	// Options beat the environment.
	f(Options{Endpoint: "https://x:1"}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "https://x:1", ProtocolHTTP)
}

func TestOptionsDefaults(t *testing.T) {
	got, err := Options{}.withDefaults(env(nil))
	require.NoError(t, err)
	require.NotEmpty(t, got.ServiceName)
	require.Equal(t, 10*time.Second, got.MetricInterval)
	require.Equal(t, slog.LevelInfo, got.LogLevel.Level())
	require.NotNil(t, got.ErrorLog)

	got, err = Options{}.withDefaults(env(map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "500"}))
	require.NoError(t, err)
	require.Zero(t, got.MetricInterval, "left to the periodic reader, which reads the variable")
}

func TestOptionsErrors(t *testing.T) {
	f := func(o Options, e map[string]string, want string) {
		t.Helper()
		_, err := Start(context.Background(), o)
		if e != nil {
			_, err = start(context.Background(), o, env(e))
		}
		require.ErrorContains(t, err, want)
	}
	f(Options{Protocol: "http/json"}, nil, `protocol "http/json"`)
	f(Options{Endpoint: "localhost:4318"}, nil, `endpoint "localhost:4318"`)
	f(Options{}, map[string]string{"LOUPE_SERVER": "ftp://x"}, `endpoint "ftp://x"`)
	f(Options{Endpoint: DefaultEndpoint, MetricInterval: -time.Second}, nil, "metric interval -1s")
}

func TestParentFromEnv(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc := parentFromEnv(env(map[string]string{"TRACEPARENT": tp, "TRACESTATE": "loupe=1"}))
	require.True(t, sc.IsValid())
	require.True(t, sc.IsRemote())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", sc.SpanID().String())
	require.Equal(t, "loupe=1", sc.TraceState().String())

	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		require.False(t, parentFromEnv(env(map[string]string{"TRACEPARENT": bad})).IsValid(), bad)
	}

	t.Setenv("TRACEPARENT", tp)
	ctx := ContextFromEnv(context.Background())
	require.Equal(t, sc.TraceID(), trace.SpanContextFromContext(ctx).TraceID())
}

// TestStartExportsAllSignals runs the SDK against an in-process OTLP receiver: a span with a
// child, a log record inside it, a counter and the runtime metrics all arrive, with the
// resource, and the span continues the trace named by TRACEPARENT.
func TestStartExportsAllSignals(t *testing.T) {
	rcv := newReceiver(t)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "loupe.run.id=run-1,deployment.environment=test")
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := context.Background()
	var console bytes.Buffer
	s, err := start(ctx, Options{ServiceName: "dice", ServiceVersion: "1.0", Endpoint: rcv.URL, NoGlobal: true,
		Attributes: []attribute.KeyValue{attribute.String("team", "research")}, Console: &console},
		env(map[string]string{"TRACEPARENT": parent}))
	require.NoError(t, err)

	ctx = s.Context(ctx)
	ctx, root := s.Tracer("test").Start(ctx, "roll")
	_, child := s.Tracer("test").Start(ctx, "pick")
	child.End()
	s.Logger().InfoContext(ctx, "rolled", "value", 4)
	s.Logger().DebugContext(ctx, "not sent: below the default level")
	counter, err := s.Meter("test").Int64Counter("dice.rolls")
	require.NoError(t, err)
	counter.Add(ctx, 3, metric.WithAttributes(attribute.String("roll.value", "4")))
	root.End()
	require.Equal(t, ctx, s.Context(ctx), "a context with a span keeps it")

	require.NoError(t, s.Shutdown(ctx))
	require.NoError(t, s.Shutdown(ctx), "safe twice")

	spans := rcv.spans()
	require.Contains(t, spans, "roll")
	require.Contains(t, spans, "pick")
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", spans["roll"].TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", spans["roll"].ParentSpanID().String(), "nested under TRACEPARENT")
	require.Equal(t, spans["roll"].SpanID(), spans["pick"].ParentSpanID())

	res := rcv.spanResource(t)
	require.Equal(t, "dice", res["service.name"])
	require.Equal(t, "1.0", res["service.version"])
	require.Equal(t, "research", res["team"])
	require.Equal(t, "run-1", res["loupe.run.id"])
	require.Equal(t, "test", res["deployment.environment"])
	for _, k := range []string{"service.instance.id", "host.name", "process.pid", "process.runtime.version", "telemetry.sdk.language"} {
		require.NotEmpty(t, res[k], k)
	}
	require.NotContains(t, res, "process.command_args", "arguments can hold secrets")

	logs := rcv.logRecords()
	require.Len(t, logs, 1)
	require.Equal(t, "rolled", logs[0].Body().Str())
	require.Equal(t, "INFO", logs[0].SeverityText())
	require.Equal(t, spans["roll"].TraceID(), logs[0].TraceID())
	require.Equal(t, spans["roll"].SpanID(), logs[0].SpanID())
	v, ok := logs[0].Attributes().Get("value")
	require.True(t, ok)
	require.EqualValues(t, 4, v.Int())
	require.Contains(t, console.String(), "msg=rolled value=4")
	require.NotContains(t, console.String(), "not sent")

	metrics := rcv.metricNames()
	require.Contains(t, metrics, "dice.rolls")
	require.EqualValues(t, 3, metrics["dice.rolls"].Sum().DataPoints().At(0).IntValue())
	require.Contains(t, metrics, "go.goroutine.count")
	require.Contains(t, metrics, "go.memory.used")
}

func TestLogLevelAndNoRuntimeMetrics(t *testing.T) {
	rcv := newReceiver(t)
	ctx := context.Background()
	s, err := Start(ctx, Options{Endpoint: rcv.URL, NoGlobal: true, NoRuntimeMetrics: true, LogLevel: slog.LevelDebug})
	require.NoError(t, err)
	s.Logger().With("k", "v").WithGroup("g").Debug("debug kept", "x", 1)
	c, err := s.Meter("test").Int64Counter("c")
	require.NoError(t, err)
	c.Add(ctx, 1)
	require.NoError(t, s.Shutdown(ctx))

	logs := rcv.logRecords()
	require.Len(t, logs, 1)
	require.Equal(t, "debug kept", logs[0].Body().Str())
	require.Equal(t, map[string]any{"k": "v", "g": map[string]any{"x": int64(1)}}, logs[0].Attributes().AsRaw())
	require.Contains(t, rcv.metricNames(), "c")
	require.NotContains(t, rcv.metricNames(), "go.goroutine.count")
}

// TestUnreachableServerNeverBlocks: with nothing listening, the program's calls return at
// once, and Shutdown gives up when its context ends instead of waiting for retries.
func TestUnreachableServerNeverBlocks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // a port nobody listens on

	var errs bytes.Buffer
	s, err := Start(context.Background(), Options{Endpoint: "http://" + addr, NoGlobal: true,
		ErrorLog: slog.New(slog.NewTextHandler(&errs, nil))})
	require.NoError(t, err)
	ctx, span := s.Tracer("test").Start(context.Background(), "work")
	for i := range 20000 { // more than the log queue holds: the oldest are dropped, nothing blocks
		s.Logger().InfoContext(ctx, "line", "i", i)
	}
	span.End()

	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = s.Shutdown(shutCtx)
	require.Error(t, err, "what could not be sent is reported")
	t.Logf("shutdown: %v", err)
}

func TestShutdownNil(t *testing.T) {
	var s *SDK
	require.NoError(t, s.Shutdown(context.Background()))
}
