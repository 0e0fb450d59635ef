package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// A request with records refused for the stream limit carries ErrStreamLimit (receivers
// answer 429, as Loki does) and is still a partial success; other refusals do not carry
// it, and a partial write by the store keeps it (joinPartial).
func TestStreamLimitIsMarked(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits.MaxLogStreams = 1
	cfg.Limits.StreamIdle = time.Hour
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	err := p.ConsumeLogs(ctx, streamLogs("a", "b"))
	require.ErrorIs(t, err, ErrStreamLimit)
	requirePartial(t, err, 1, "(limit limits.max_log_streams) (1)")
	require.True(t, IsPartial(err))
	require.False(t, IsRetryable(err))

	ld := streamLogs("a")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().SetStr(string([]byte{0xff}))
	err = p.ConsumeLogs(ctx, ld)
	requirePartial(t, err, 1, "not valid UTF-8")
	require.NotErrorIs(t, err, ErrStreamLimit)

	joined := joinPartial(&streamLimitError{&store.PartialError{Rejected: 1, Msg: "streams"}}, &store.PartialError{Rejected: 2, Msg: "store"})
	require.ErrorIs(t, joined, ErrStreamLimit)
	var pe *store.PartialError
	require.True(t, errors.As(joined, &pe))
	require.Equal(t, int64(3), pe.Rejected)
}

// A span whose end is past the window (or past 2262, which the store cannot keep) is
// refused as a partial success naming limits.max_future; the store refused the whole batch
// before, a retryable error (found by FuzzDuckWrite).
func TestSpanEndPastWindowRefused(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits.MaxFuture = 10 * time.Minute
	p, _ := startPipeline(t, cfg, fs)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	now := time.Now()
	for i, end := range []uint64{uint64(now.UnixNano()), 18388250262078763056, uint64(now.Add(time.Hour).UnixNano())} {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
		sp.SetEndTimestamp(pcommon.Timestamp(end))
	}
	requirePartial(t, p.ConsumeTraces(context.Background(), td), 2, "limits.max_future")
	require.Len(t, fs.traces, 1)
	require.Equal(t, 1, fs.traces[0].SpanCount())
}
