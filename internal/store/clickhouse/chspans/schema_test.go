package chspans

import (
	"testing"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqlgolden"
)

// TestDDLGolden keeps the DDL of a single server and of a cluster in testdata, for review:
// the cluster's cannot run on chDB, so its text is what is tested.
func TestDDLGolden(t *testing.T) {
	for name, schema := range map[string]chsql.Schema{
		"single.sql":  {Database: "loupe"},
		"cluster.sql": {Database: "loupe", Cluster: "loupe_cluster"},
	} {
		t.Run(name, func(t *testing.T) {
			chsqlgolden.Compare(t, name, chsql.ExpandAll(schema, component, migrations(schema)))
		})
	}
}
