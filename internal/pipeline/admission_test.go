package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
)

// Direct appends (remote write) and OTLP metrics share one budget: a reservation fills the
// room OTLP would use, and OTLP metrics queued behind a blocked writer fill the room a
// reservation would use. Freed room is usable again.
func TestAdmitMetricsSharesQueueItems(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	cfg := DefaultConfig()
	cfg.QueueItems = 4
	cfg.RetryAfter = 2 * time.Second
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	release, err := p.AdmitMetrics(ctx, PathRemoteWrite, 3, false)
	require.NoError(t, err)
	require.Equal(t, 3.0, testutil.ToFloat64(p.metrics.m.admitted.WithLabelValues("metrics")))

	// OTLP: 2 more points do not fit beside the 3 reserved.
	err = p.ConsumeMetrics(ctx, gaugeOf("m", 1, 2))
	require.ErrorIs(t, err, ErrQueueFull)
	require.ErrorContains(t, err, "metrics queue holds 3 items, limit 4, of which 3 reserved")

	// Remote write: neither does a second reservation, refused at once with the delay.
	_, err = p.AdmitMetrics(ctx, PathRemoteWrite, 2, false)
	require.ErrorIs(t, err, ErrQueueFull)
	d, ok := RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 2*time.Second, d)
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.throttled.WithLabelValues(PathRemoteWrite)))

	release()
	release() // harmless
	require.Zero(t, testutil.ToFloat64(p.metrics.m.admitted.WithLabelValues("metrics")))

	// OTLP points queued behind the blocked writer count against reservations too.
	done := make(chan error, 2)
	go func() { done <- p.ConsumeMetrics(ctx, gaugeOf("first", 1)) }()
	waitEntered(t, fs)
	go func() { done <- p.ConsumeMetrics(ctx, gaugeOf("queued", 1, 2, 3)) }()
	require.Eventually(t, func() bool { return queuedItems(p.metrics) == 3 }, 10*time.Second, time.Millisecond)
	_, err = p.AdmitMetrics(ctx, PathRemoteWrite, 2, false)
	require.ErrorIs(t, err, ErrQueueFull)
	release, err = p.AdmitMetrics(ctx, PathRemoteWrite, 1, false)
	require.NoError(t, err)
	release()

	close(hold)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	// Room is back: a request larger than QueueItems passes when nothing else is held.
	release, err = p.AdmitMetrics(ctx, PathRemoteWrite, 10, false)
	require.NoError(t, err)
	release()
}

// A caller that cannot be retried waits for room, and gets it when it is freed; when none
// comes before its ctx ends, it gets ErrQueueFull.
func TestAdmitMetricsWaits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueueItems = 4
	p, _ := startPipeline(t, cfg, newFakeStore())
	ctx := context.Background()

	release, err := p.AdmitMetrics(ctx, PathRemoteWrite, 4, false)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = p.AdmitMetrics(short, PathStatsD, 1, true)
	require.ErrorIs(t, err, ErrQueueFull)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.throttled.WithLabelValues(PathStatsD)))

	got := make(chan error, 1)
	go func() {
		r, err := p.AdmitMetrics(ctx, PathStatsD, 2, true)
		if err == nil {
			r()
		}
		got <- err
	}()
	release()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting reservation was not granted when room was freed")
	}
}

// countingAppendable appends nothing and counts commits.
type countingAppendable struct {
	mu       sync.Mutex
	appended int
}

type countingAppender struct {
	storage.Appender // nil: only the methods below are called
	c                *countingAppendable
	n                int
}

func (c *countingAppendable) Appender(context.Context) storage.Appender {
	return &countingAppender{c: c}
}

func (a *countingAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	a.n++
	return 1, nil
}

func (a *countingAppender) Commit() error {
	a.c.mu.Lock()
	a.c.appended += a.n
	a.c.mu.Unlock()
	return nil
}

func (a *countingAppender) Rollback() error { return nil }

// An admitted appender (scrape, StatsD) takes its room as it appends, waits a bounded time
// for it, fails every later append once refused, and frees it on Commit.
func TestAdmittedAppendable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueueItems = 2 * admitChunk
	p, _ := startPipeline(t, cfg, newFakeStore())
	ctx := context.Background()
	store := &countingAppendable{}
	app := p.AdmittedAppendable(store, PathScrape, 20*time.Millisecond)
	ls := labels.FromStrings("__name__", "m")

	// Alone, an appender may go past QueueItems (as one big OTLP request may).
	a := app.Appender(ctx)
	for range 3*admitChunk + 1 {
		_, err := a.Append(0, ls, 1, 1)
		require.NoError(t, err)
	}
	require.Equal(t, float64(4*admitChunk), testutil.ToFloat64(p.metrics.m.admitted.WithLabelValues("metrics")))
	require.NoError(t, a.Commit())
	require.Zero(t, testutil.ToFloat64(p.metrics.m.admitted.WithLabelValues("metrics")))

	// With the room taken by remote write, an appender waits, then fails.
	release, err := p.AdmitMetrics(ctx, PathRemoteWrite, 2*admitChunk, false)
	require.NoError(t, err)
	a = app.Appender(ctx)
	_, err = a.Append(0, ls, 1, 1)
	require.ErrorIs(t, err, ErrQueueFull)
	_, err = a.Append(0, ls, 2, 1)
	require.ErrorIs(t, err, ErrQueueFull)
	require.NoError(t, a.Rollback())
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.throttled.WithLabelValues(PathScrape)))

	// Freed while it waits: it goes on.
	wait := p.AdmittedAppendable(store, PathScrape, time.Minute)
	a = wait.Appender(ctx)
	got := make(chan error, 1)
	go func() {
		_, err := a.Append(0, ls, 1, 1)
		got <- err
	}()
	release()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the appender was not admitted when room was freed")
	}
	require.NoError(t, a.Commit())
	require.Equal(t, 3*admitChunk+2, store.appended)
}
