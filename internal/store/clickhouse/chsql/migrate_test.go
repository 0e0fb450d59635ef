package chsql

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqlgolden"
)

var exampleMigrations = []Migration{
	{Version: 1, Statements: []string{
		"CREATE TABLE IF NOT EXISTS {db}.things{local}{on_cluster} (ts DateTime64(9, 'UTC'), n UInt64) " +
			"ENGINE = {MergeTree} PARTITION BY toDate(ts) ORDER BY (n, ts)",
		Distributed("things", "rand()"),
	}},
	{Version: 2, Statements: []string{"ALTER TABLE {db}.things{local}{on_cluster} ADD COLUMN IF NOT EXISTS label String"}},
}

func TestExpandGolden(t *testing.T) {
	chsqlgolden.Compare(t, "single.sql", ExpandAll(Schema{Database: "loupe"}, "things", exampleMigrations))
	chsqlgolden.Compare(t, "cluster.sql", ExpandAll(Schema{Database: "loupe", Cluster: "prod"}, "things", exampleMigrations))
}

func TestExpand(t *testing.T) {
	s := Schema{Database: "my-db", Cluster: "c1"}
	require.Equal(t, "ALTER TABLE `my-db`.logs_local ON CLUSTER `c1` DROP PARTITION 20261118",
		s.Expand("ALTER TABLE {db}.logs{local}{on_cluster} DROP PARTITION 20261118"))
	require.Equal(t, "logs_local", s.Local("logs"))
	require.Equal(t, "logs", Schema{Database: "d"}.Local("logs"))
	require.Empty(t, Schema{Database: "d"}.Expand(Distributed("logs", "rand()")))
	require.Equal(t, "keep {shard} {replica}", s.Expand("keep {shard} {replica}"), "server macros are left alone")
}
