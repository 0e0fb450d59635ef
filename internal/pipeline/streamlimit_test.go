package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
