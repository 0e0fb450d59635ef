package duck

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSmallBatchIsAtomic covers the path of writeRows without BEGIN and COMMIT (a batch
// of at most one chunk on one day, appendSmall): a batch that fails after appending rows
// leaves none of them visible, also when it fails right after the chunk filled up, and a
// batch of exactly one full chunk, which is handed to DuckDB at its last row, commits
// whole and reports its rows to the block indexes.
func TestSmallBatchIsAtomic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	rows, days, _, err := logRows(genLogs(0, chunkRows), time.Now())
	require.NoError(t, err)
	require.Len(t, days, 1)
	// Rows counted in the partitions: the batches written by hand here add no
	// log_resources rows, which QueryLogs would join.
	count := func() int {
		n := 0
		for _, d := range s.logs.allDays() {
			var c int
			require.NoError(t, s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+dayName(logsSchema.prefix, d)).Scan(&c))
			n += c
		}
		return n
	}
	for _, failAfter := range []int{0, 1, chunkRows - 1} {
		err = s.logs.writeRows(ctx, days, chunkRows, func(day int64, a *chunkAppender) error {
			for _, r := range rows[:failAfter] {
				if err := r.appendTo(a); err != nil {
					return err
				}
			}
			return errors.New("injected failure")
		}, nil, nil)
		require.ErrorContains(t, err, "injected failure")
		require.Zero(t, count(), "rows of a failed batch of %d rows are visible", failAfter)
	}

	var reported []int64
	committed := s.logs.committed
	s.logs.committed = func(d, r []int64) {
		reported = append(reported, r...)
		committed(d, r)
	}
	err = s.logs.writeRows(ctx, days, chunkRows, func(day int64, a *chunkAppender) error {
		for _, r := range rows {
			if err := r.appendTo(a); err != nil {
				return err
			}
		}
		return nil
	}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, chunkRows, count())
	require.Equal(t, []int64{chunkRows}, reported)

	// The writer still works, with and without a transaction of its own.
	require.NoError(t, s.WriteLogs(ctx, genLogs(chunkRows, 100)))
	require.NoError(t, s.WriteLogs(ctx, genLogs(2*chunkRows, chunkRows+1)))
	require.Equal(t, 2*chunkRows+101, count())
}
