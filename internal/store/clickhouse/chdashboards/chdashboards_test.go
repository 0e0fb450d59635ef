//go:build chdb

package chdashboards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunDashboards(t, func(t *testing.T, dir string) storetest.DashboardStore {
		conn := chsqltest.OpenDir(t, dir)
		s, err := New(context.Background(), conn, chsqltest.Schema(conn), nil)
		require.NoError(t, err)
		return s
	})
}

func newStore(t *testing.T, conn chsql.Conn) *Store {
	t.Helper()
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), nil)
	require.NoError(t, err)
	return s
}

func rowCount(t *testing.T, conn chsql.Conn, cond string) uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT count() FROM dashboards WHERE "+cond)
	require.NoError(t, err)
	defer rows.Close()
	var n uint64
	for rows.Next() {
		require.NoError(t, rows.Scan(&n))
	}
	require.NoError(t, rows.Err())
	return n
}

func testDash(uid, title string) dashboards.Dashboard {
	d := dashboards.Dashboard{UID: uid, Title: title}
	dashboards.Normalize(&d)
	return d
}

// TestSameSeqTwoNodes: two stores on one database, as two Loupe nodes, write the same
// seq (both read the same head): ClickHouse keeps the first insert and drops the second
// as a duplicate, so one row is stored and the second writer is told of the conflict.
func TestSameSeqTwoNodes(t *testing.T) {
	conn := chsqltest.Open(t)
	a, b := newStore(t, conn), newStore(t, conn)
	ctx := context.Background()
	_, err := a.Put(ctx, testDash("d", "one"), 0)
	require.NoError(t, err)
	h, _, err := b.head(ctx, "d", "")
	require.NoError(t, err)
	require.NoError(t, a.write(ctx, "d", h.seq+1, h.base, false, "from a", []string{}, `{"uid":"d","title":"from a"}`))
	err = b.write(ctx, "d", h.seq+1, h.base, false, "from b", []string{}, `{"uid":"d","title":"from b"}`)
	require.ErrorIs(t, err, dashboards.ErrConflict)
	require.EqualValues(t, 1, rowCount(t, conn, "uid = 'd' AND seq = 2"), "the second insert was deduplicated")
	rec, err := b.Get(ctx, "d")
	require.NoError(t, err)
	require.Equal(t, "from a", rec.Dashboard.Title)
	require.EqualValues(t, 2, rec.Version)
}

// TestConcurrentNodes: eight writers on two stores update one version at once, for
// several rounds: one wins each round (as the suite's case, across stores).
func TestConcurrentNodes(t *testing.T) {
	conn := chsqltest.Open(t)
	nodes := []*Store{newStore(t, conn), newStore(t, conn)}
	ctx := context.Background()
	_, err := nodes[0].Put(ctx, testDash("c", "c"), 0)
	require.NoError(t, err)
	for round := int64(1); round <= 5; round++ {
		var wg sync.WaitGroup
		var wins atomic.Int32
		for w := range 8 {
			wg.Go(func() {
				_, err := nodes[w%2].Put(ctx, testDash("c", fmt.Sprintf("r%d w%d", round, w)), round)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, dashboards.ErrConflict) {
					t.Errorf("writer %d: %v", w, err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load(), "round %d", round)
		require.EqualValues(t, 1, rowCount(t, conn, fmt.Sprintf("uid = 'c' AND seq = %d", round+1)))
	}
}

// TestDuplicateRowsAreResolved: two rows of one seq (two saves farther apart than the
// deduplication window, simulated by inserting a row directly) are read the same way by
// every read: the greatest writer token wins.
func TestDuplicateRowsAreResolved(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	ctx := context.Background()
	_, err := s.Put(ctx, testDash("x", "kept?"), 0)
	require.NoError(t, err)
	require.NoError(t, conn.Exec(ctx, `INSERT INTO dashboards (uid, seq, base, deleted, writer, updated_ns, title, tags, doc)
		VALUES ('x', 1, 1, false, 'ffffffffffffffffffffffffffffffff', 1, 'winner', [], '{"uid":"x","title":"winner"}')`))
	rec, err := s.Get(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, "winner", rec.Dashboard.Title)
	list, err := s.List(ctx, dashboards.Filter{})
	require.NoError(t, err)
	require.Equal(t, "winner", list[0].Title)
	hist, err := s.Versions(ctx, "x")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, "winner", hist[0].Title)
	old, err := s.GetVersion(ctx, "x", 1)
	require.NoError(t, err)
	require.Equal(t, "winner", old.Dashboard.Title)
}

// TestOldRowsRemoved: the versions beyond MaxVersions and the history of a deleted
// dashboard are deleted from the table, not only hidden; the tombstone stays.
func TestOldRowsRemoved(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	ctx := context.Background()
	for v := int64(0); v < dashboards.MaxVersions+3; v++ {
		_, err := s.Put(ctx, testDash("o", fmt.Sprint(v)), v)
		require.NoError(t, err)
	}
	require.EqualValues(t, dashboards.MaxVersions, rowCount(t, conn, "uid = 'o'"))
	require.NoError(t, s.Delete(ctx, "o", dashboards.MaxVersions+3))
	require.EqualValues(t, 1, rowCount(t, conn, "uid = 'o'"))
	v, err := s.Put(ctx, testDash("o", "again"), 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
}
