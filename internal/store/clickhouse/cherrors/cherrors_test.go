//go:build chdb

package cherrors

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
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
	errtracktest.Test(t, func(t *testing.T) errtrack.Store { return newStore(t, chsqltest.Open(t)) })
}

var ctx = context.Background()

// TestSameBatchTwoNodes: two stores on one database, as two Loupe nodes on one ClickHouse,
// take the same batch at once (a client's retry delivered to both): the events are
// stored and counted once, whichever order their look-ups and inserts interleave in.
func TestSameBatchTwoNodes(t *testing.T) {
	conn := chsqltest.Open(t)
	nodes := []*Store{newStore(t, conn), newStore(t, conn)}
	const rounds = 5
	for r := range rounds {
		batch := []errtrack.Event{
			errtracktest.Event(3*r+1, "checkout", errtracktest.Now),
			errtracktest.Event(3*r+2, "checkout", errtracktest.Now),
			errtracktest.Event(3*r+3, "checkout", errtracktest.Now),
		}
		errs := make(chan error, 2)
		for _, s := range nodes {
			go func() { errs <- s.WriteEvents(ctx, batch) }()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
	}
	id := errtracktest.Event(1, "checkout", errtracktest.Now).GroupID
	for _, s := range nodes {
		is, err := s.GetIssue(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 3*rounds, is.Events)
		page, err := s.IssueEvents(ctx, id, errtrack.EventQuery{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page.Events, 3*rounds)
	}
}

// TestConcurrentNodesCount: two stores write different events of one issue at once;
// the counters add up (aggregate states, no read-modify-write of an issue row).
func TestConcurrentNodesCount(t *testing.T) {
	conn := chsqltest.Open(t)
	nodes := []*Store{newStore(t, conn), newStore(t, conn)}
	errs := make(chan error, 20)
	for i := range 20 {
		ev := errtracktest.Event(i+1, "checkout", errtracktest.Now.Add(time.Duration(i)*time.Second))
		ev.User = &errtrack.User{ID: strconv.Itoa(i % 4)}
		go func() { errs <- nodes[i%2].WriteEvents(ctx, []errtrack.Event{ev}) }()
	}
	for range 20 {
		require.NoError(t, <-errs)
	}
	is, err := nodes[0].GetIssue(ctx, errtracktest.Event(1, "checkout", errtracktest.Now).GroupID)
	require.NoError(t, err)
	require.EqualValues(t, 20, is.Events)
	require.EqualValues(t, 4, is.Users)
	require.Equal(t, errtracktest.EventID(20), is.LastEventID)
}

// TestDuplicateRowsReadOnce: an event id stored twice (two overlapping batches from two
// nodes, which the insert tokens do not catch) is listed and counted in series once
// before any merge, and the merge keeps one row.
func TestDuplicateRowsReadOnce(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	ev := errtracktest.Event(1, "checkout", errtracktest.Now)
	ev.TraceID = "0af7651916cd43dd8448eb211c80319c"
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{ev}))
	// What a second node would insert had its look-up run before the first insert.
	require.NoError(t, conn.Exec(ctx, "INSERT INTO error_events SELECT * FROM error_events"))
	require.EqualValues(t, 2, count(t, conn, "SELECT count() FROM error_events"))
	page, err := s.IssueEvents(ctx, ev.GroupID, errtrack.EventQuery{})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	got, err := s.TraceEvents(ctx, ev.TraceID, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	series, err := s.IssueSeries(ctx, ev.GroupID, errtracktest.Now, errtracktest.Now.Add(time.Hour), time.Hour)
	require.NoError(t, err)
	require.Equal(t, []errtrack.Bucket{{Start: errtracktest.Now, Count: 1}}, series)
	tags, err := s.IssueTags(ctx, ev.GroupID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tags[0].Values[0].Count)
	require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE error_events FINAL"))
	require.EqualValues(t, 1, count(t, conn, "SELECT count() FROM error_events"))
}

// TestMergesKeepIssues: once ClickHouse merges the parts (forced here), issues read as
// before: the counters' states and the latest state rows survive merges unchanged.
func TestMergesKeepIssues(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	var ids []string
	for i := range 12 {
		ev := errtracktest.Event(i+1, "fn_"+string(rune('a'+i%3)), errtracktest.Now.Add(time.Duration(i)*time.Minute))
		ev.Release = "1.0." + strconv.Itoa(i%4)
		ev.User = &errtrack.User{ID: strconv.Itoa(i % 5)}
		require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{ev}))
		ids = append(ids, ev.GroupID)
	}
	for _, st := range []string{errtrack.StatusResolved, errtrack.StatusIgnored, errtrack.StatusUnresolved, errtrack.StatusIgnored} {
		_, err := s.SetStatus(ctx, ids[0], errtrack.StatusChange{Status: st})
		require.NoError(t, err)
	}
	before, err := s.ListIssues(ctx, errtrack.IssueQuery{})
	require.NoError(t, err)
	require.Equal(t, errtrack.StatusIgnored, before.Issues[len(before.Issues)-1].Status)
	for _, table := range []string{eventsTable, statsTable, stateTable, releasesTable} {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	require.EqualValues(t, 3, count(t, conn, "SELECT count() FROM error_issue_stats"))
	require.EqualValues(t, 1, count(t, conn, "SELECT count() FROM error_issue_state"))
	after, err := s.ListIssues(ctx, errtrack.IssueQuery{})
	require.NoError(t, err)
	require.Equal(t, before, after)
}

func count(t testing.TB, conn chsql.Conn, q string) uint64 {
	t.Helper()
	rows, err := conn.Query(ctx, q)
	require.NoError(t, err)
	defer rows.Close()
	var n uint64
	for rows.Next() {
		require.NoError(t, rows.Scan(&n))
	}
	require.NoError(t, rows.Err())
	return n
}

// TestInsertTokenDedup: the same batch inserted twice past the look-up (the interleaving
// TestSameBatchTwoNodes may or may not hit) is kept once, in the events and the counters.
func TestInsertTokenDedup(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn)
	batch, err := normalise([]errtrack.Event{
		errtracktest.Event(1, "checkout", errtracktest.Now), errtracktest.Event(2, "checkout", errtracktest.Now),
	})
	require.NoError(t, err)
	rows := [][]any{}
	for _, ev := range batch {
		r, err := eventRow(ev)
		require.NoError(t, err)
		rows = append(rows, r)
	}
	require.NoError(t, s.insertEvents(ctx, batch, rows))
	require.NoError(t, s.insertEvents(ctx, batch, rows))
	require.EqualValues(t, 2, count(t, conn, "SELECT count() FROM error_events"))
	is, err := s.GetIssue(ctx, batch[0].GroupID)
	require.NoError(t, err)
	require.EqualValues(t, 2, is.Events)
}

// TestTTLAndSize: Options.Retention sets error_events' TTL, a store without it removes
// it, and DiskBytes counts the error tables.
func TestTTLAndSize(t *testing.T) {
	conn := chsqltest.Open(t)
	ttlQuery := "SELECT count() FROM system.tables WHERE database = " + chsql.String(conn.Database()) +
		" AND name = 'error_events' AND position(create_table_query, 'toIntervalSecond(604800)') > 0"
	newStore(t, conn)
	require.Zero(t, count(t, conn, ttlQuery))
	_, err := New(ctx, conn, chsqltest.Schema(conn), Options{Retention: 7 * 24 * time.Hour}, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, count(t, conn, ttlQuery))
	s := newStore(t, conn)
	require.Zero(t, count(t, conn, ttlQuery))
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(1, "checkout", errtracktest.Now)}))
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalErrors])
}
