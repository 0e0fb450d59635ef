//go:build chdb

package chspans

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestRetentionTTL: Options.Retention becomes the tables' TTL, which ClickHouse applies
// in merges (forced here with OPTIMIZE FINAL); zero removes it again.
func TestRetentionTTL(t *testing.T) {
	conn := chsqltest.Open(t)
	ctx := context.Background()
	open := func(retention time.Duration) *Store {
		s, err := New(ctx, conn, chsqltest.Schema(conn), Options{Retention: retention}, nil)
		require.NoError(t, err)
		return s
	}
	createQuery := func(s *Store, table string) string {
		q, err := s.strings(ctx, "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = '"+table+"'")
		require.NoError(t, err)
		require.Len(t, q, 1)
		return q[0]
	}
	s := open(36 * time.Hour)
	for _, table := range tables {
		q := createQuery(s, table)
		require.Contains(t, q, "toIntervalDay(2)", "%s: 36h rounds up to 2 days", table)
		require.Contains(t, q, "ttl_only_drop_parts = 1", table)
		require.Contains(t, q, " TTL "+ttlColumns[table]+" + toIntervalDay(2)", "%s: the form setTTL looks for", table)
	}
	before := createQuery(s, "spans")
	s = open(36 * time.Hour) // a second start leaves the table as it was
	require.Equal(t, before, createQuery(s, "spans"))

	old, oldIDs := genTraces(1, 10, 3, time.Now().Add(-10*24*time.Hour), time.Second)
	recent, recentIDs := genTraces(2, 10, 3, time.Now().Add(-time.Hour), time.Second)
	require.NoError(t, s.WriteTraces(ctx, old))
	require.NoError(t, s.WriteTraces(ctx, recent))
	for _, table := range tables {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+s.table(table)+" FINAL"))
	}
	_, err := s.GetTrace(ctx, oldIDs[0])
	require.ErrorIs(t, err, store.ErrNotFound, "expired by TTL")
	_, err = s.GetTrace(ctx, recentIDs[0])
	require.NoError(t, err)

	s = open(0)
	for _, table := range tables {
		require.False(t, strings.Contains(createQuery(s, table), " TTL "), "%s: TTL removed", table)
	}
}
