//go:build chdb

package chruns

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

func newStore(t testing.TB, conn chsql.Conn) *Store {
	t.Helper()
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	runstest.Test(t, func(t *testing.T) runs.Store { return newStore(t, chsqltest.Open(t)) })
}

// TestConcurrentUpsertsTwoNodes has two stores on one database, as two Loupe nodes on one
// ClickHouse, upsert the start and final records of runs at once: every run ends final.
func TestConcurrentUpsertsTwoNodes(t *testing.T) {
	conn := chsqltest.Open(t)
	nodes := []*Store{newStore(t, conn), newStore(t, conn)}
	errs := make(chan error, 40)
	for i := range 40 {
		status := runs.StatusRunning
		if i%2 == 1 {
			status = runs.StatusSucceeded
		}
		run := runstest.Parse(t, runstest.Record(1+(i/2)%4, "job", status, runstest.Now))
		go func() { errs <- nodes[i%3%2].UpsertRuns(context.Background(), []runs.Run{run}) }()
	}
	for range 40 {
		require.NoError(t, <-errs)
	}
	for _, s := range nodes {
		page, err := s.ListRuns(context.Background(), runs.Query{})
		require.NoError(t, err)
		require.Len(t, page.Runs, 4)
		for _, r := range page.Runs {
			require.Equal(t, runs.StatusSucceeded, r.Status, r.RunID)
		}
	}
}

// TestMergeKeepsTheWinner: once ClickHouse merges the parts (forced here), one row per
// run is left, the one reads chose before the merge.
func TestMergeKeepsTheWinner(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	ctx := context.Background()
	final := runstest.Record(1, "train", runs.StatusFailed, runstest.Now)
	running := runstest.Record(1, "train", runs.StatusRunning, runstest.Now)
	for _, r := range []*jobs.Record{final, running, running, final, running} {
		require.NoError(t, s.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, r)}))
	}
	before, err := s.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	n, err := s.count(ctx, "SELECT count() FROM runs")
	require.NoError(t, err)
	require.EqualValues(t, 5, n, "every record is a row until a merge")
	require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE runs FINAL"))
	n, err = s.count(ctx, "SELECT count() FROM runs")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	after, err := s.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, runs.StatusFailed, after.Runs[0].Status)
}

func TestTTLAndSize(t *testing.T) {
	conn := chsqltest.Open(t)
	ctx := context.Background()
	createQuery := "SELECT count() FROM system.tables WHERE database = " + chsql.String(conn.Database()) +
		" AND name = 'runs' AND position(create_table_query, 'toIntervalSecond(604800)') > 0"
	s := newStore(t, conn)
	n, err := s.count(ctx, createQuery)
	require.NoError(t, err)
	require.Zero(t, n)
	s, err = New(ctx, conn, chsqltest.Schema(conn), Options{Retention: 7 * 24 * time.Hour}, nil)
	require.NoError(t, err)
	n, err = s.count(ctx, createQuery)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	s = newStore(t, conn)
	ttl, err := chsql.TableTTL(ctx, s.conn, s.schema, table)
	require.NoError(t, err)
	require.Empty(t, ttl)

	require.NoError(t, s.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, runstest.Record(1, "a", runs.StatusSucceeded, runstest.Now))}))
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalRuns])
}

// TestFarTimes: a record may start any time from 1677 to 2262 (what runs.ParseRecord
// accepts); such runs are stored, listed and dropped like others.
func TestFarTimes(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	early := time.Date(1700, 1, 2, 3, 4, 5, 6, time.UTC)
	late := time.Date(2261, 1, 2, 3, 4, 5, 6, time.UTC)
	for i, start := range []time.Time{early, late} {
		require.NoError(t, s.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, runstest.Record(i+1, "far", runs.StatusSucceeded, start))}))
	}
	page, err := s.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	require.Len(t, page.Runs, 2)
	require.Equal(t, late, page.Runs[0].Start)
	require.Equal(t, early, page.Runs[1].Start)
	require.NoError(t, s.DropBefore(ctx, store.SignalRuns, runstest.Now))
	page, err = s.ListRuns(ctx, runs.Query{})
	require.NoError(t, err)
	require.Len(t, page.Runs, 1)
	require.Equal(t, late, page.Runs[0].Start)
}

// count returns the one UInt64 of q's result.
func (s *Store) count(ctx context.Context, q string) (uint64, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}
