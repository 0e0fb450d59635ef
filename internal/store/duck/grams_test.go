package duck

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

// TestBodyFilterHoldsItsNeedles checks the index's one promise: a filter built from bodies
// has every trigram of every needle any of those bodies contains, whatever the case.
func TestBodyFilterHoldsItsNeedles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []rune("abcXYZ019 -_=/:.é€K\u212AİıSſß")
	for round := range 200 {
		f := newGramFilter()
		bodies := make([]string, 1+rng.IntN(50))
		for i := range bodies {
			r := make([]rune, rng.IntN(40))
			for j := range r {
				r[j] = alphabet[rng.IntN(len(alphabet))]
			}
			bodies[i] = string(r)
			f.add(bodies[i])
		}
		for _, b := range bodies {
			for range 5 {
				if len(b) == 0 {
					break
				}
				i := rng.IntN(len(b))
				j := i + rng.IntN(len(b)-i+1)
				needle := b[i:j]
				// Both searches the index serves: LogQL's case-sensitive |= and the native,
				// case-insensitive search, whose needle is lowered.
				for _, n := range []string{needle, strings.ToLower(needle)} {
					if !strings.Contains(b, n) && !strings.Contains(strings.ToLower(b), n) {
						continue
					}
					require.True(t, bloomHasAll(f, needleGrams(n)), "round %d: body %q, needle %q", round, b, n)
				}
			}
		}
	}
}

func TestNeedleGrams(t *testing.T) {
	require.Nil(t, needleGrams("ab"))
	require.Equal(t, []uint32{'a'<<16 | 'b'<<8 | 'c', 'b'<<16 | 'c'<<8 | 'd'}, needleGrams("ABcd"))
	require.Len(t, needleGrams("aéb"), 0, "windows with non-ASCII bytes are skipped")
	require.Nil(t, bodyNeedles{{"needle", "x"}}.grams(), "an alternative without trigrams prunes nothing")
	require.Len(t, bodyNeedles{{"needle"}, {"hay"}}.grams(), 2)
}

// searchTestStore opens a store whose search blocks are 100 rows and writes 1,050 records:
// ten full blocks and a tail. Bodies are "record <i> ...", and three records, one of them
// in the tail, also say "Found the XQZNeedle".
func searchTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s := openBlocksTest(t, path)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range 1050 {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(i) * time.Millisecond)))
		body := fmt.Sprintf("record %d took %dms for user u-%04d", i, i%97, i%1000)
		if i == 250 || i == 777 || i == 1020 {
			body += " Found the XQZNeedle"
		}
		lr.Body().SetStr(body)
	}
	ctx := context.Background()
	// Several batches, as a server would write them.
	for _, part := range splitLogs(ld, 7) {
		require.NoError(t, s.WriteLogs(ctx, part))
	}
	waitFilters(t, s, s.bodyIndex, 10)
	require.Zero(t, s.bodyIndex.readBacks.Load(), "the writer built every filter from the bodies it wrote")
	return s, path
}

// waitFilters waits until queries see n filters of ix for benchStart's day. The indexer
// publishes a filter in memory just after storing it; until then its block reads as part
// of the tail, with the same results, which the tests' exact ranges would not show.
func waitFilters(t *testing.T, s *Store, ix *blockIndex, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		blocks, err := ix.cache.blocks(context.Background(), s.db, ix.table, dayOf(benchStart.UnixNano()))
		require.NoError(t, err)
		return len(blocks) == n
	}, 30*time.Second, 20*time.Millisecond, "the indexer covers %d full blocks", n)
}

// splitLogs splits the records of ld's one scope into n requests.
func splitLogs(ld plog.Logs, n int) []plog.Logs {
	src := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	var out []plog.Logs
	per := (src.Len() + n - 1) / n
	for from := 0; from < src.Len(); from += per {
		part := plog.NewLogs()
		dst := part.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := from; i < min(from+per, src.Len()); i++ {
			src.At(i).CopyTo(dst.AppendEmpty())
		}
		out = append(out, part)
	}
	return out
}

func TestSearchIndexPrunesAndFindsEverything(t *testing.T) {
	s, _ := searchTestStore(t)
	ctx := context.Background()
	day := dayOf(benchStart.UnixNano())

	ranges, err := s.searchRanges(ctx, day, logIndexQuery{needles: bodyNeedles{{"xqzneedle"}}})
	require.NoError(t, err)
	require.Equal(t, []rowRange{{200, 299}, {700, 799}, {1000, -1}}, ranges,
		"only the blocks holding the needle, and the tail")
	ranges, err = s.searchRanges(ctx, day, logIndexQuery{needles: bodyNeedles{{"record"}}})
	require.NoError(t, err)
	require.Nil(t, ranges, "a needle in every block prunes nothing")

	// Native search: case-insensitive, newest first.
	var bodies []string
	for rec, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: store.LogFilter{Contains: "xqzNEEDLE"}}) {
		require.NoError(t, err)
		bodies = append(bodies, rec.Body)
	}
	require.Len(t, bodies, 3)
	require.True(t, strings.HasPrefix(bodies[0], "record 1020 "))
	require.True(t, strings.HasPrefix(bodies[2], "record 250 "))

	counts, err := s.CountLogs(ctx, store.LogCountQuery{LogFilter: store.LogFilter{Contains: "xqzneedle"}, Step: time.Hour})
	require.NoError(t, err)
	var total int64
	for _, c := range counts {
		total += c.Count
	}
	require.EqualValues(t, 3, total)

	// LogQL |= is case-sensitive: the index must not lose the exact-case matches, and
	// the lowered needle must match nothing.
	lq := s.LogQL()
	sel := plan.Select{Start: 0, End: 1 << 62, Limit: 100,
		LineFilters: []plan.LineFilter{{Op: plan.LineContains, Values: []string{"XQZNeedle"}}}}
	require.Equal(t, 3, countRows(t, lq, sel))
	sel.Unordered = true
	require.Equal(t, 3, countRows(t, lq, sel))
	sel.Unordered = false
	sel.LineFilters[0].Values = []string{"xqzneedle"}
	require.Equal(t, 0, countRows(t, lq, sel))
	sel.LineFilters[0].Values = []string{"nothing like it", "XQZNeedle"}
	require.Equal(t, 3, countRows(t, lq, sel), "any of the alternatives")
	buckets, err := lq.Buckets(ctx, plan.Select{Start: 0, End: 1 << 62,
		LineFilters: []plan.LineFilter{{Op: plan.LineContains, Values: []string{"Found the XQZ"}}}}, 0, int64(time.Hour))
	require.NoError(t, err)
	var n int64
	for _, b := range buckets {
		n += b.Count
	}
	require.EqualValues(t, 3, n)
}

func countRows(t *testing.T, lq plan.Store, sel plan.Select) int {
	t.Helper()
	n := 0
	for _, err := range lq.Rows(context.Background(), sel) {
		require.NoError(t, err)
		n++
	}
	return n
}

func TestSearchIndexSurvivesRestartAndRetention(t *testing.T) {
	s, path := searchTestStore(t)
	require.NoError(t, s.Close())
	s = openBlocksTest(t, path)
	ctx := context.Background()
	// More rows complete the tail block; the indexer resumes where it stopped.
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range 60 {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Hour + time.Duration(i))))
		lr.Body().SetStr("later")
	}
	require.NoError(t, s.WriteLogs(ctx, ld))
	waitFilters(t, s, s.bodyIndex, 11)
	require.EqualValues(t, 1, s.bodyIndex.readBacks.Load(),
		"the block in progress at the restart is read back: its first 50 bodies were written before")
	ranges, err := s.searchRanges(ctx, dayOf(benchStart.UnixNano()), logIndexQuery{needles: bodyNeedles{{"XQZNeedle"}}})
	require.NoError(t, err)
	require.Contains(t, ranges, rowRange{1000, 1099}, "the block that was the tail")

	require.NoError(t, s.DropBefore(ctx, store.SignalLogs, benchStart.Add(48*time.Hour)))
	var n int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM log_body_filters").Scan(&n))
	require.Zero(t, n, "retention drops the filters with their partition")
}

// TestConformanceSmallSearchBlocks runs the store conformance suite with 3-row search
// blocks, so that its searches run while the indexer works, over pruned and unpruned
// partitions alike.
func TestConformanceSmallSearchBlocks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) storetest.Store {
		opts := DefaultOptions()
		opts.blockRows = 3
		s, err := Open(filepath.Join(dir, "loupe.duckdb"), opts, nil, prometheus.NewRegistry())
		require.NoError(t, err)
		return s
	})
}

// TestBodyFilterMissesNoRows writes a batch whose COMMIT is reported as failed although it
// committed, between two batches the body filters see: the block must be read back, not
// handed over without those rows, or the needle in them would be pruned away.
func TestBodyFilterMissesNoRows(t *testing.T) {
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	ctx := context.Background()
	batch := func(first, n int, needle bool) plog.Logs {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := first; i < first+n; i++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(i) * time.Millisecond)))
			body := fmt.Sprintf("record %d", i)
			if needle {
				body += " qjxneedle"
			}
			lr.Body().SetStr(body)
		}
		return ld
	}
	require.NoError(t, s.WriteLogs(ctx, batch(0, 50, false)))
	rows, days, _, err := logRows(batch(50, 30, true), time.Now())
	require.NoError(t, err)
	require.NoError(t, s.logs.writeBatch(ctx, days, func(day int64, a *chunkAppender) error {
		for i := range rows {
			if err := rows[i].appendTo(a); err != nil {
				return err
			}
		}
		return nil
	}, nil, func(_ *sql.Conn, _ bool) { s.openBodies.forget(days); s.openTerms.forget(days) }))
	require.NoError(t, s.WriteLogs(ctx, batch(80, 60, false)))
	waitFilters(t, s, s.bodyIndex, 1)
	require.EqualValues(t, 1, s.bodyIndex.readBacks.Load(), "the block was read back")
	n := 0
	for _, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: store.LogFilter{Contains: "qjxneedle"}, Limit: 100}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 30, n)
}
