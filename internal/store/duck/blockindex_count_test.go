package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// The indexer counts a partition's rows only when the writer's reports say a full block
// may be waiting, not after every commit (small batches made that two count(*) queries
// per commit), and still indexes every full block.
func TestIndexerCountsRowsOnlyForFullBlocks(t *testing.T) {
	opts := DefaultOptions()
	opts.blockRows = 100
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	// Drive the indexer by hand, one round after each commit.
	s.indexer.stop()
	ctx := context.Background()
	for b := range 40 {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := range 10 {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(b*10+i) * time.Millisecond)))
			lr.Body().SetStr(fmt.Sprintf("record %d of batch %d", i, b))
		}
		require.NoError(t, s.WriteLogs(ctx, ld))
		require.True(t, s.indexer.catchUp(ctx, false))
	}
	blocks, err := s.bodyIndex.cache.blocks(ctx, s.db, s.bodyIndex.table, dayOf(benchStart.UnixNano()))
	require.NoError(t, err)
	require.Len(t, blocks, 4, "400 rows are 4 full blocks of 100")
	require.Zero(t, s.bodyIndex.readBacks.Load())
	// One count to learn the partition, then one per block filled: 5 of 40 rounds.
	require.LessOrEqual(t, s.bodyIndex.counts.Load(), int64(5))
	require.LessOrEqual(t, s.termIndex.counts.Load(), int64(5))
}
