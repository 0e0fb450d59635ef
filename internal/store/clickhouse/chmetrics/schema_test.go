package chmetrics

import (
	"testing"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqlgolden"
)

// TestClusterDDL compares the DDL of a cluster deployment with testdata/cluster.sql: it
// cannot run on chDB (no Keeper, no cluster), so its text is what is reviewed and tested.
func TestClusterDDL(t *testing.T) {
	chsqlgolden.Compare(t, "cluster.sql", chsql.ExpandAll(chsql.Schema{Database: "loupe", Cluster: "loupe_cluster"}, component, migrations))
}
