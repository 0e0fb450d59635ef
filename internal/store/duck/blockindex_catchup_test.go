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

// TestCatchUpReadsOldBlocksAtOnce: blocks the writer cannot hand over (written before a
// restart, or by an older layout) are read back in one round; the indexer waited a round
// (a second) for each, which took 40 minutes for the 2,441 term blocks of 10M records.
func TestCatchUpReadsOldBlocksAtOnce(t *testing.T) {
	opts := DefaultOptions()
	opts.blockRows = 100
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.indexer.stop()
	ctx := context.Background()
	const blocks = builtBacklog + 8
	for b := range blocks {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := range 100 {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(b*100+i) * time.Millisecond)))
			lr.Body().SetStr(fmt.Sprintf("record %d of block %d", i, b))
		}
		require.NoError(t, s.WriteLogs(ctx, ld))
	}
	// As after a restart: nothing from the writer.
	for _, ix := range s.indexer.indexes {
		ix.receive()
		ix.days = map[int64]*dayIndex{}
	}
	require.True(t, s.indexer.catchUp(ctx, true))
	day := dayOf(benchStart.UnixNano())
	for _, ix := range []*blockIndex{s.bodyIndex, s.termIndex} {
		var n int
		require.NoError(t, s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+ix.table+" WHERE day = ?", day).Scan(&n))
		require.GreaterOrEqual(t, n, blocks-builtBacklog, ix.table)
	}
}
