//go:build chdb

package chlogs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

func newStore(t testing.TB, conn chsql.Conn, opts Options) *Store {
	t.Helper()
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), opts, nil)
	require.NoError(t, err)
	return s
}

// queryText runs q and returns its rows' single String column, joined by newlines.
func queryText(t *testing.T, conn chsql.Conn, q string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		lines = append(lines, s)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

func TestTTL(t *testing.T) {
	conn := chsqltest.Open(t)
	createQuery := "SELECT create_table_query FROM system.tables WHERE database = " +
		chsql.String(conn.Database()) + " AND name = 'logs'"
	newStore(t, conn, Options{})
	require.NotContains(t, queryText(t, conn, createQuery), " TTL ")
	newStore(t, conn, Options{Retention: 7 * 24 * time.Hour})
	require.Contains(t, queryText(t, conn, createQuery), "TTL toDateTime(ts) + toIntervalSecond(604800)")
	newStore(t, conn, Options{Retention: 24 * time.Hour})
	require.Contains(t, queryText(t, conn, createQuery), "toIntervalSecond(86400)")
	// The same retention again changes nothing (no ALTER, which system.tables cannot
	// show, but the TTL read back must match what was set).
	s := newStore(t, conn, Options{Retention: 24 * time.Hour})
	ttl, err := chsql.TableTTL(context.Background(), s.conn, s.schema, table)
	require.NoError(t, err)
	require.Equal(t, "toDateTime(ts) + toIntervalSecond(86400)", ttl)
	newStore(t, conn, Options{})
	require.NotContains(t, queryText(t, conn, createQuery), " TTL ")
}

func oneLog(ts time.Time, body string, tid pcommon.TraceID) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.Body().SetStr(body)
	lr.SetTraceID(tid)
	lr.Attributes().PutStr("http.method", "GET")
	return ld
}

func TestWriteErrorsAndSize(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(0), sizes[store.SignalLogs])

	ld := oneLog(time.Now(), "x", pcommon.TraceID{})
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetSeverityNumber(300)
	require.ErrorContains(t, s.WriteLogs(ctx, ld), "severity number 300 out of range")
	ld = oneLog(time.Now(), "x", pcommon.TraceID{})
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.Timestamp(1 << 63))
	require.ErrorContains(t, s.WriteLogs(ctx, ld), "after 2262")

	require.NoError(t, s.WriteLogs(ctx, oneLog(time.Now(), "x", pcommon.TraceID{})))
	sizes, err = s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalLogs])
	require.NoError(t, s.DropBefore(ctx, store.SignalSpans, time.Now().Add(48*time.Hour)), "other signals are not this store's")
	// Bounds outside DateTime64(9)'s range (APIs pass such) are clamped, not refused.
	far := store.LogFilter{Start: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	n := 0
	for _, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: far}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 1, n)
}

// TestSkipIndexes checks with EXPLAIN that the hot filters use the skip indexes the
// schema declares for them (the data is tiny; what matters is that ClickHouse matches the
// filter's expression to the index).
func TestSkipIndexes(t *testing.T) {
	conn := chsqltest.Open(t)
	s := newStore(t, conn, Options{})
	ctx := context.Background()
	tid := pcommon.TraceID{1, 2, 3}
	require.NoError(t, s.WriteLogs(ctx, oneLog(time.Now(), "found the Needle", tid)))
	for name, f := range map[string]store.LogFilter{
		"idx_body":        {Contains: "needle"},
		"idx_trace_id":    {TraceID: tid},
		"idx_attr_values": {Attrs: []store.AttrFilter{{Key: "http.method", Op: store.MatchEqual, Value: "GET"}}},
	} {
		conds, err := filterConds(f)
		require.NoError(t, err)
		plan := queryText(t, conn, "EXPLAIN indexes = 1 SELECT count() FROM logs WHERE "+strings.Join(conds, " AND "))
		require.Contains(t, plan, "Name: "+name, "plan of %+v:\n%s", f, plan)
	}
}
