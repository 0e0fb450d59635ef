package duck

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
	"github.com/loupe-dev/loupe/internal/store"
)

// TestDiskGuardRefusesWrites fakes a nearly full disk: log, span and run writes are refused
// with store.ErrDiskFull and store nothing, Close skips its checkpoint (the WAL stays and
// is replayed at the next Open, losing nothing), and writes are taken again once space is
// back.
func TestDiskGuardRefusesWrites(t *testing.T) {
	var free atomic.Int64
	free.Store(1 << 40)
	opts := DefaultOptions()
	opts.freeBytes = func(string) (int64, error) { return free.Load(), nil }
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, genLogs(0, 100)))
	require.NoError(t, s.WriteTraces(ctx, genTraces(0, 30)))

	free.Store(DefaultMinFreeBytes - 1)
	err = s.WriteLogs(ctx, genLogs(100, 100))
	require.ErrorIs(t, err, store.ErrDiskFull)
	require.ErrorContains(t, err, "disk space")
	require.ErrorIs(t, s.WriteTraces(ctx, genTraces(30, 30)), store.ErrDiskFull)
	run := runstest.Parse(t, runstest.Record(1, "train", runs.StatusSucceeded, runstest.Now))
	require.ErrorIs(t, s.UpsertRuns(ctx, []runs.Run{run}), store.ErrDiskFull)
	require.Equal(t, 100, signalRows(t, s, "logs"))
	require.Equal(t, 30, signalRows(t, s, "spans"))

	// The WAL counts against the free space: a checkpoint may need as much again.
	wal, err := os.Stat(path + ".wal")
	require.NoError(t, err)
	require.Positive(t, wal.Size())
	free.Store(DefaultMinFreeBytes + wal.Size() - 1)
	require.ErrorIs(t, s.WriteLogs(ctx, genLogs(100, 100)), store.ErrDiskFull)

	// Close on the nearly full disk does not checkpoint: the WAL is still there.
	require.NoError(t, s.Close())
	wal, err = os.Stat(path + ".wal")
	require.NoError(t, err, "the WAL must be kept when the checkpoint is skipped")
	require.Positive(t, wal.Size())

	// Reopened, still nearly full: what was committed is there (WAL replay), writes refused.
	s, err = Open(path, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.Equal(t, 100, signalRows(t, s, "logs"))
	require.Equal(t, 30, signalRows(t, s, "spans"))
	require.ErrorIs(t, s.WriteLogs(ctx, genLogs(100, 100)), store.ErrDiskFull)

	// Space freed: writes are taken again without a reopen.
	free.Store(1 << 40)
	require.NoError(t, s.WriteLogs(ctx, genLogs(100, 100)))
	require.NoError(t, s.WriteTraces(ctx, genTraces(30, 30)))
	require.NoError(t, s.UpsertRuns(ctx, []runs.Run{run}))
	require.Equal(t, 200, signalRows(t, s, "logs"))
	require.Equal(t, 60, signalRows(t, s, "spans"))
	require.NoError(t, s.Close())
	_, err = os.Stat(path + ".wal")
	require.ErrorIs(t, err, os.ErrNotExist, "with room, Close checkpoints the WAL away")
}

// signalRows counts the rows of every partition of a signal ("logs", "spans").
func signalRows(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	parts := s.logs
	if prefix == "spans" {
		parts = s.spans
	}
	total := 0
	for _, table := range parts.tables(0, 0) {
		var n int
		require.NoError(t, s.db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
		total += n
	}
	return total
}
