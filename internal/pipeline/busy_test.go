package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
)

// busyLogs refuses log writes with store.ErrBusy while busy is set, as the ClickHouse
// backend's insert limits do (chsql.InsertLimiter), after the fake's hold.
type busyLogs struct {
	*fakeStore
	busy atomic.Bool
}

func (b *busyLogs) WriteLogs(ctx context.Context, ld plog.Logs) error {
	if b.busy.Load() {
		if err := b.wait(ctx); err != nil {
			return err
		}
		return fmt.Errorf("%w: clickhouse logs inserts: insert did not finish within storage.clickhouse.insert_timeout 10s", store.ErrBusy)
	}
	return b.fakeStore.WriteLogs(ctx, ld)
}

// A store too slow to take a write (store.ErrBusy) throttles its callers as a full queue
// does: a *ThrottleError with RetryAfter, IsThrottled, counted as store_busy; a merged
// write refused so is not retried request by request (each would wait again).
func TestBusyStoreThrottles(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	bl := &busyLogs{fakeStore: fs}
	bl.busy.Store(true)
	cfg := DefaultConfig()
	cfg.RetryAfter = 2 * time.Second
	p := New(cfg, Writers{Logs: bl, Spans: fs, Metrics: fs}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(bodies ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.ConsumeLogs(context.Background(), logsOf(bodies...))
		}()
	}
	send("first")
	waitEntered(t, fs)
	send("a1", "a2")
	send("b1")
	send("c1")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 4 }, 10*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.True(t, IsThrottled(err), "%v", err)
		require.True(t, IsRetryable(err))
		d, ok := RetryAfter(err)
		require.True(t, ok)
		require.Equal(t, 2*time.Second, d)
		require.ErrorContains(t, err, "write logs: store busy: clickhouse logs inserts: insert did not finish within storage.clickhouse.insert_timeout 10s")
	}
	require.Empty(t, fs.logBodies())
	require.Equal(t, 0.0, testutil.ToFloat64(p.logs.m.splitRetries.WithLabelValues("logs")))
	require.Equal(t, 5.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "store_busy")))

	// Fast again: written.
	bl.busy.Store(false)
	require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("later")))
	require.Equal(t, []string{"later"}, fs.logBodies())
}
