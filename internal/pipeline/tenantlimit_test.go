package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// tenantClock is a settable clock for the tenant's limiter.
type tenantClock struct{ t time.Time }

func (c *tenantClock) now() time.Time { return c.t }

// Every path of the pipeline takes from the tenant's ingest rate, refuses a request whole
// with a *tenant.LimitError naming the limit, stores nothing of it, and counts it.
func TestTenantIngestRate(t *testing.T) {
	c := &tenantClock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Tenant = tenant.NewLimiter("team-a", tenant.Limits{IngestRate: 10}, c.now)
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	require.NoError(t, p.ConsumeLogs(ctx, logsOf("a", "b", "c", "d", "e", "f")))
	require.NoError(t, p.ConsumeTraces(ctx, tracesOf(3)))
	err := p.ConsumeMetrics(ctx, gaugeOf("m", 1, 2))
	le, ok := tenant.AsLimit(err)
	require.True(t, ok, "want a tenant limit error, got %v", err)
	require.Equal(t, tenant.KeyIngestRate, le.Key)
	require.Contains(t, err.Error(), `tenant "team-a": tenants.limits.ingest_rate of 10 items/s exceeded`)
	require.Equal(t, time.Second, le.RetryAfter)
	require.False(t, IsPartial(err))
	require.Empty(t, fs.metrics, "nothing of a refused request is stored")
	require.Equal(t, 2.0, testutil.ToFloat64(p.metrics.m.rejected.WithLabelValues("metrics", tenant.KeyIngestRate)))
	require.NoError(t, p.ConsumeMetrics(ctx, gaugeOf("m", 1)), "the last token")

	// Remote write and Pyroscope ask AdmitTenant; scrapes and StatsD append through
	// AdmittedAppendable, one sample at a time.
	c.t = c.t.Add(time.Second)
	require.NoError(t, p.AdmitTenant("profiles", 4, 0))
	app := p.AdmittedAppendable(&countingAppendable{}, PathScrape, time.Second).Appender(ctx)
	ls := labels.FromStrings("__name__", "up")
	for range 6 {
		_, err := app.Append(0, ls, 1, 1)
		require.NoError(t, err)
	}
	_, err = app.Append(0, ls, 2, 1)
	require.ErrorIs(t, err, tenant.ErrLimit)
	require.Contains(t, err.Error(), "scrape: tenant")
	require.NoError(t, app.Commit())
	require.ErrorIs(t, p.AdmitTenant("profiles", 1, 0), tenant.ErrLimit)
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.rejected.WithLabelValues("profiles", tenant.KeyIngestRate)))
	require.Equal(t, 3.0, testutil.ToFloat64(p.metrics.m.rejected.WithLabelValues("metrics", tenant.KeyIngestRate)))
}

// max_bytes_per_day counts the OTLP protobuf size of what is accepted, and refuses the
// request that would go past it.
func TestTenantBytesPerDay(t *testing.T) {
	c := &tenantClock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	one := logsOf("0123456789")
	size := int64(logsSizer.LogsSize(one))
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Tenant = tenant.NewLimiter("b", tenant.Limits{MaxBytesPerDay: 2*size + size/2}, c.now)
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()
	require.True(t, p.CountsTenantBytes())

	require.NoError(t, p.ConsumeLogs(ctx, logsOf("0123456789")))
	require.NoError(t, p.ConsumeLogs(ctx, logsOf("0123456789")))
	err := p.ConsumeLogs(ctx, logsOf("0123456789"))
	require.ErrorIs(t, err, tenant.ErrLimit)
	require.Contains(t, err.Error(), `tenant "b": tenants.limits.max_bytes_per_day of`)
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.rejected.WithLabelValues("logs", tenant.KeyMaxBytesPerDay)))
	require.Len(t, fs.logs, 2)

	c.t = c.t.Add(14 * time.Hour) // the next UTC day
	require.NoError(t, p.ConsumeLogs(ctx, logsOf("0123456789")))
	require.Equal(t, int64(16+len("__name__up")), sampleBytes(labels.FromStrings("__name__", "up")))
}

// A request the queue refuses gives back what it took from the tenant's limits.
func TestTenantLimitRefundedWhenQueueFull(t *testing.T) {
	c := &tenantClock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	fs := newFakeStore()
	fs.hold = make(chan struct{})
	cfg := DefaultConfig()
	cfg.QueueItems = 2
	cfg.Tenant = tenant.NewLimiter("q", tenant.Limits{IngestRate: 4}, c.now)
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	done := make(chan error, 1)
	go func() { done <- p.ConsumeLogs(ctx, logsOf("a")) }() // held in the write
	waitEntered(t, fs)
	go func() { done <- p.ConsumeLogs(ctx, logsOf("b")) }() // queued
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 1 }, 10*time.Second, time.Millisecond)
	err := p.ConsumeLogs(ctx, logsOf("c", "d"))
	require.ErrorIs(t, err, ErrQueueFull)
	close(fs.hold)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.NoError(t, p.ConsumeLogs(ctx, logsOf("e")), "the refused request's two tokens were given back")
}

// A metric store's partial success for max_series keeps the limit in its chain when the
// pipeline adds its own rejections, and the counts add up.
func TestTenantPartialJoined(t *testing.T) {
	limit := tenant.NewLimitError("a", tenant.KeyMaxSeries, "1", "")
	storeErr := &tenantPartialError{&store.PartialError{Rejected: 2, Msg: "2 max_series"}, limit}
	joined := joinPartial(&store.PartialError{Rejected: 1, Msg: "1 invalid"}, storeErr)
	require.ErrorIs(t, joined, tenant.ErrLimit)
	var pe *store.PartialError
	require.ErrorAs(t, joined, &pe)
	require.Equal(t, int64(3), pe.Rejected)
	require.True(t, IsPartial(joined))
}
