package chruns

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqlgolden"
)

// TestClusterDDL compares the DDL of a cluster deployment with testdata/cluster.sql: it
// cannot run on chDB (no Keeper, no cluster), so its text is what is reviewed and tested.
func TestClusterDDL(t *testing.T) {
	s := chsql.Schema{Database: "loupe", Cluster: "loupe_cluster"}
	chsqlgolden.Compare(t, "cluster.sql", chsql.ExpandAll(s, component, migrations(s)))
}

func TestVersionOrder(t *testing.T) {
	require.Greater(t, versionOf("succeeded", 1), versionOf("running", 2), "final beats running whatever the time")
	require.Greater(t, versionOf("running", 2), versionOf("running", 1))
	require.Greater(t, versionOf("killed", 2), versionOf("failed", 1))
}
