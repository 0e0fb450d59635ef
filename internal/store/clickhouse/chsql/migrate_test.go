package chsql

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden compares got with the file testdata/name, rewriting it under -update. The
// cluster DDL cannot run on chDB (no Keeper, no cluster), so its text is what is tested.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.Equal(t, string(want), got, "DDL differs from %s (go test -update rewrites it)", path)
}

var exampleMigrations = []Migration{
	{Version: 1, Statements: []string{
		"CREATE TABLE IF NOT EXISTS {db}.things{local}{on_cluster} (ts DateTime64(9, 'UTC'), n UInt64) " +
			"ENGINE = {MergeTree} PARTITION BY toDate(ts) ORDER BY (n, ts)",
		Distributed("things", "rand()"),
	}},
	{Version: 2, Statements: []string{"ALTER TABLE {db}.things{local}{on_cluster} ADD COLUMN IF NOT EXISTS label String"}},
}

func TestExpandGolden(t *testing.T) {
	golden(t, "single.sql", ExpandAll(Schema{Database: "loupe"}, "things", exampleMigrations))
	golden(t, "cluster.sql", ExpandAll(Schema{Database: "loupe", Cluster: "prod"}, "things", exampleMigrations))
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
