//go:build chdb

package chspans

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// createQuery returns the CREATE statement of one of s's tables as ClickHouse keeps it,
// with the database name replaced by DB so that two databases' can be compared.
func createQuery(t *testing.T, s *Store, table string) string {
	t.Helper()
	q, err := s.strings(context.Background(), `SELECT create_table_query FROM system.tables WHERE database = `+
		chsql.String(s.schema.Database)+` AND name = `+chsql.String(s.schema.Local(table)))
	require.NoError(t, err)
	require.Len(t, q, 1, table)
	return strings.ReplaceAll(q[0], s.schema.Database, "DB")
}

// TestMigrationOnExistingDatabase upgrades a database that a Loupe of migration 1 made and
// wrote spans to: New applies migration 2 (smaller compressed blocks for spans), the spans
// written before are found before and after a merge rewrites their part, and the upgraded
// tables are those of a new database.
func TestMigrationOnExistingDatabase(t *testing.T) {
	ctx := context.Background()
	conn := chsqltest.Open(t)
	schema := chsqltest.Schema(conn)
	require.NoError(t, chsql.Migrate(ctx, conn, schema, component, migrations(schema)[:1], nil))
	old := &Store{conn: conn, schema: schema, tenant: chsql.String("")}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	td, ids := genTraces(5, 3000, 5, start, 20*time.Millisecond)
	require.NoError(t, old.WriteTraces(ctx, td))
	require.NotContains(t, createQuery(t, old, "spans"), "compress_block_size")

	s := newStore(t, conn)
	spans := createQuery(t, s, "spans")
	require.Contains(t, spans, "min_compress_block_size = 4096")
	require.Contains(t, spans, "max_compress_block_size = 65536")
	versions, err := s.strings(ctx, `SELECT toString(version) FROM `+s.table(chsql.MigrationsTable)+
		` WHERE component = 'spans' ORDER BY version`)
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2"}, versions)

	td2, ids2 := genTraces(6, 3000, 5, start.Add(time.Minute), 20*time.Millisecond)
	require.NoError(t, s.WriteTraces(ctx, td2))
	check := func() {
		t.Helper()
		for _, i := range []int{0, 1234, 2999} {
			for _, id := range []pcommon.TraceID{ids[i], ids2[i]} {
				got, err := s.GetTrace(ctx, id)
				require.NoError(t, err, id.String())
				require.Equal(t, 5, got.SpanCount(), id.String())
			}
		}
	}
	check()
	// The merge writes the old spans and the new in one part, with the new block sizes.
	require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+s.table("spans")+" FINAL"))
	check()

	fresh := newStore(t, chsqltest.Open(t))
	for _, table := range tables {
		require.Equal(t, createQuery(t, fresh, table), createQuery(t, s, table), table)
	}
}
