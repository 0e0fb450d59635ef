package duck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestWriterFiltersMatchReadBack: under concurrent batches of random sizes, some of them
// cancelled while they are written, every block filter the write path hands over is the
// filter of the rows that block holds, as reading them back builds it. A filter attached
// to the wrong rows prunes blocks that hold the searched value (a rare attribute value
// was found in 52 of its 53 records on a 10M-record bench load, docs/performance.md).
func TestWriterFiltersMatchReadBack(t *testing.T) {
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	day := dayOf(benchStart.UnixNano())
	var (
		mu   sync.Mutex
		next int // record ids, so that every record is distinct
	)
	batch := func(rng *rand.Rand) plog.Logs {
		n := 1 + rng.IntN(250)
		if rng.IntN(10) == 0 {
			n = chunkRows + rng.IntN(chunkRows) // the path with BEGIN and COMMIT
		}
		mu.Lock()
		first := next
		next += n
		mu.Unlock()
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", rng.IntN(5)))
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := first; i < first+n; i++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(i) * time.Microsecond)))
			lr.Body().SetStr(fmt.Sprintf("record %d done", i))
			lr.Attributes().PutStr("user.id", fmt.Sprintf("u-%06d", i))
			lr.Attributes().PutInt("n", int64(i%7))
		}
		return ld
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range 40 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if rng.IntN(4) == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Microsecond)
				}
				_ = s.WriteLogs(ctx, batch(rng)) // a cancelled batch may or may not be stored
				cancel()
			}
		}()
	}
	wg.Wait()

	var count int64
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM "+dayName(logsSchema.prefix, day)).Scan(&count))
	blocks := int(count / s.termIndex.blockRows)
	t.Logf("%d rows stored, %d full blocks, %d read back", count, blocks, s.termIndex.readBacks.Load())
	require.Greater(t, blocks, 50)
	waitFilters(t, s, s.termIndex, blocks)
	waitFilters(t, s, s.bodyIndex, blocks)

	ctx := context.Background()
	for _, ix := range []*blockIndex{s.termIndex, s.bodyIndex} {
		stored, err := ix.cache.blocks(ctx, s.db, ix.table, day)
		require.NoError(t, err)
		for _, b := range stored {
			want, err := ix.filter(ctx, s.db, dayName(logsSchema.prefix, day), b.first, b.last)
			require.NoError(t, err)
			require.Equal(t, want, b.bloom, "%s: rows %d-%d: the stored filter is not the rows' filter", ix.table, b.first, b.last)
		}
	}
}
