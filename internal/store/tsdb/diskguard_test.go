package tsdb

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// TestDiskGuardRefusesWrites: below Options.MinFreeBytes both write paths (OTLP and the
// storage.Appender of remote write, scraping and StatsD) are refused with ErrDiskFull and
// store nothing, and they are taken again once space is back, without reopening.
// The e2e test TestDiskFullMetrics does the same on a real full tmpfs.
func TestDiskGuardRefusesWrites(t *testing.T) {
	s, dir, _ := openTest(t, DefaultOptions())
	var free atomic.Int64
	free.Store(DefaultMinFreeBytes - 1)
	s.guard.free = func(string) (int64, error) { return free.Load(), nil }
	flushed := make(chan struct{}, 1)
	s.guard.flush = func() { flushed <- struct{}{} }

	t0 := recent()
	b := tsdbtest.NewBatch(svc)
	b.Gauge("g", "", nil, t0, time.Minute, 1)
	err := s.WriteMetrics(context.Background(), b.Metrics)
	require.ErrorIs(t, err, ErrDiskFull)
	require.ErrorContains(t, err, "free disk space")
	require.ErrorContains(t, err, dir)
	<-flushed // the pending head chunks are written while there is room

	app := s.Appender(context.Background())
	_, err = app.Append(0, labels.FromStrings("__name__", "rw"), t0.UnixMilli(), 1)
	require.NoError(t, err)
	require.ErrorIs(t, app.Commit(), ErrDiskFull)
	require.Empty(t, selectSeries(t, s, nameIs("g")))
	require.Empty(t, selectSeries(t, s, nameIs("rw")))

	free.Store(DefaultMinFreeBytes)
	require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	app = s.Appender(context.Background())
	_, err = app.Append(0, labels.FromStrings("__name__", "rw"), t0.UnixMilli(), 1)
	require.NoError(t, err)
	require.NoError(t, app.Commit())
	require.Len(t, selectSeries(t, s, nameIs("g")), 1)
	require.Len(t, selectSeries(t, s, nameIs("rw")), 1)
}

// TestDiskGuardOff: MinFreeBytes 0 never refuses, and a failing statfs does not block
// writes either.
func TestDiskGuardOff(t *testing.T) {
	g := &diskGuard{reserve: 0, free: func(string) (int64, error) { return 0, nil }}
	require.NoError(t, g.check())
	g = &diskGuard{reserve: 1 << 20, free: func(string) (int64, error) { return 0, errors.New("statfs failed") }}
	require.NoError(t, g.check())
}
