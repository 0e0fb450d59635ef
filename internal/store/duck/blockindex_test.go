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

// openBlocksTest opens the store at path with blocks of 100 rows, so that a thousand
// records fill several; it is closed when the test ends.
func openBlocksTest(t *testing.T, path string) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.blockRows = 100
	s, err := Open(path, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// openIndexerTest opens a store with blocks of 100 rows whose indexer is stopped, for
// tests that drive its rounds by hand.
func openIndexerTest(t *testing.T) *Store {
	t.Helper()
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	s.indexer.stop()
	return s
}

// writeRecords writes records first..first+n-1 in one batch, a millisecond apart from
// benchStart, with bodies "record <i>".
func writeRecords(t *testing.T, s *Store, first, n int) {
	t.Helper()
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := first; i < first+n; i++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("record %d", i))
	}
	require.NoError(t, s.WriteLogs(context.Background(), ld))
}

// TestCatchUpReadsOldBlocksAtOnce: blocks the writer cannot hand over (written before a
// restart, or by an older layout) are read back in one round; the indexer waited a round
// (a second) for each, which took 40 minutes for the 2,441 term blocks of 10M records.
func TestCatchUpReadsOldBlocksAtOnce(t *testing.T) {
	s := openIndexerTest(t)
	ctx := context.Background()
	const blocks = builtBacklog + 8
	for b := range blocks {
		writeRecords(t, s, b*100, 100)
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

// The indexer counts a partition's rows only when the writer's reports say a full block
// may be waiting, not after every commit (small batches made that two count(*) queries
// per commit), and still indexes every full block.
func TestIndexerCountsRowsOnlyForFullBlocks(t *testing.T) {
	s := openIndexerTest(t)
	ctx := context.Background()
	// One round after each commit.
	for b := range 40 {
		writeRecords(t, s, b*10, 10)
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

// TestReplacedFilterTablesAreRebuilt: a data dir with the filter tables of an older
// Loupe (log_grams, log_term_filters, whose writer-built filters may hold the wrong rows)
// gets them dropped at startup and its blocks indexed again by reading them back.
func TestReplacedFilterTablesAreRebuilt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s := openBlocksTest(t, path)
	writeRecords(t, s, 0, 250)
	waitFilters(t, s, s.termIndex, 2)
	// What the older Loupe left: its tables, holding a filter that claims nothing.
	for _, old := range []string{"log_grams", "log_term_filters"} {
		_, err := s.db.Exec("CREATE TABLE " + old + " AS SELECT * FROM log_term_index")
		require.NoError(t, err)
	}
	_, err := s.db.Exec("DELETE FROM log_term_index; DELETE FROM log_body_filters")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openBlocksTest(t, path)
	for _, old := range []string{"log_grams", "log_term_filters"} {
		var n int
		require.NoError(t, s.db.QueryRow("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", old).Scan(&n))
		require.Zero(t, n, "%s is dropped", old)
	}
	waitFilters(t, s, s.termIndex, 2)
	waitFilters(t, s, s.bodyIndex, 2)
	require.EqualValues(t, 2, s.termIndex.readBacks.Load(), "the blocks are read back")
}
