package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func windowConfig() Config {
	cfg := DefaultConfig()
	cfg.Limits.MaxFuture = 10 * time.Minute
	cfg.Limits.MaxLogAge = 7 * 24 * time.Hour
	cfg.Limits.MaxSpanAge = 7 * 24 * time.Hour
	return cfg
}

// Records dated in the year 2200 created day partitions that retention never dropped; they
// are refused, with the others of the request stored (an OTLP partial success).
func TestLogTimestampsOutsideTheWindowAreRejected(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, windowConfig(), fs)
	now := time.Now()

	ld := logsOf("now", "2200", "old", "unset", "observed-only", "observed-2200", "near-future")
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	recs.At(0).SetTimestamp(pcommon.NewTimestampFromTime(now))
	recs.At(1).SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)))
	recs.At(2).SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-8 * 24 * time.Hour)))
	// recs.At(3) has neither time: the store gives it the receive time.
	recs.At(4).SetObservedTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Hour)))
	recs.At(5).SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)))
	recs.At(6).SetTimestamp(pcommon.NewTimestampFromTime(now.Add(5 * time.Minute)))

	err := p.ConsumeLogs(context.Background(), ld)
	requirePartial(t, err, 3,
		"timestamp too far in the future: more than 10m0s after the server's time (limit limits.max_future) (2)",
		"timestamp too old: log records older than 168h0m0s", "(limit limits.max_age) (1)")
	require.False(t, IsRetryable(err))
	require.Equal(t, []string{"now", "unset", "observed-only", "near-future"}, fs.logBodies())
	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "too_far_in_future")))
	require.Equal(t, 1.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "too_old")))
}

func TestSpanStartOutsideTheWindowIsRejected(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, windowConfig(), fs)
	now := time.Now()
	td := tracesOf(3)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i, start := range []time.Time{now, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), now.Add(-30 * 24 * time.Hour)} {
		spans.At(i).SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		spans.At(i).SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
	}
	requirePartial(t, p.ConsumeTraces(context.Background(), td), 2, "limits.max_future) (1)", "limits.max_age) (1)")
	require.Len(t, fs.traces, 1)
	require.Equal(t, 1, fs.traces[0].SpanCount())
}

func TestWindowLimitsValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxFuture = -time.Second
	cfg.Limits.MaxLogStreams = -1
	err := cfg.Validate()
	require.ErrorContains(t, err, "MaxFuture")
	require.ErrorContains(t, err, "MaxLogStreams")
}

// streamLogs returns one resource (stream) per name, each with one record.
func streamLogs(names ...string) plog.Logs {
	ld := plog.NewLogs()
	for _, n := range names {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "svc")
		rl.Resource().Attributes().PutStr("stream", n)
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(n)
	}
	return ld
}

// Above the limit new streams are refused with the limit named; records of the streams
// already active keep being stored.
func TestLogStreamLimit(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits.MaxLogStreams = 3
	cfg.Limits.StreamIdle = time.Hour
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	require.NoError(t, p.ConsumeLogs(ctx, streamLogs("a", "b")))
	err := p.ConsumeLogs(ctx, streamLogs("c", "d", "e", "a"))
	requirePartial(t, err, 2, "stream limit exceeded: 3 active log streams", "(limit limits.max_log_streams) (2)")
	require.NoError(t, p.ConsumeLogs(ctx, streamLogs("b", "c", "a")), "active streams must keep working")
	require.Equal(t, []string{"a", "b", "c", "a", "b", "c", "a"}, fs.logBodies())
	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "stream_limit")))
	require.Equal(t, 3.0, testutil.ToFloat64(p.logs.m.logStreams))

	// Attribute order does not make a new stream.
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("stream", "a")
	rl.Resource().Attributes().PutStr("service.name", "svc")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("a2")
	require.NoError(t, p.ConsumeLogs(ctx, ld))

	// Once the idle ones are forgotten there is room again.
	later := time.Now().Add(2 * time.Hour)
	p.logs.v.now = func() time.Time { return later }
	require.NoError(t, p.ConsumeLogs(ctx, streamLogs("d")))
	require.Equal(t, 1.0, testutil.ToFloat64(p.logs.m.logStreams))
}

func TestStreamSetFloodIsBounded(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits.MaxLogStreams = 100
	p, _ := startPipeline(t, cfg, fs)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprint("s", i)
	}
	requirePartial(t, p.ConsumeLogs(context.Background(), streamLogs(names...)), 900, "limits.max_log_streams")
	require.Len(t, p.logs.v.streams.lastSeen, 100)
}
