package server

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

type recordingRetainer struct {
	mu    sync.Mutex
	calls map[store.Signal]time.Time
	done  chan struct{}
}

func (r *recordingRetainer) DropBefore(_ context.Context, sig store.Signal, cutoff time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[sig] = cutoff
	if len(r.calls) == 2 {
		select {
		case <-r.done:
		default:
			close(r.done)
		}
	}
	return nil
}

func TestRetentionLoopDropsPerSignalCutoffAtStart(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	rec := &recordingRetainer{calls: map[store.Signal]time.Time{}, done: make(chan struct{})}
	loop := &retentionLoop{
		store:    rec,
		keep:     map[store.Signal]time.Duration{store.SignalLogs: 24 * time.Hour, store.SignalSpans: 72 * time.Hour},
		interval: time.Hour,
		now:      func() time.Time { return now },
		logger:   slog.New(slog.DiscardHandler),
	}
	require.NoError(t, loop.Shutdown(context.Background()), "safe without Start")
	require.NoError(t, loop.Start(context.Background()))
	select {
	case <-rec.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no retention pass at start")
	}
	require.NoError(t, loop.Shutdown(context.Background()))
	require.NoError(t, loop.Shutdown(context.Background()), "safe twice")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, now.Add(-24*time.Hour), rec.calls[store.SignalLogs])
	require.Equal(t, now.Add(-72*time.Hour), rec.calls[store.SignalSpans])
}
