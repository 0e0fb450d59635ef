package chspans

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

var update = flag.Bool("update", false, "rewrite the golden DDL files in testdata")

// TestDDLGolden keeps the DDL of a single server and of a cluster in testdata, for review:
// the cluster's cannot run on chDB, so its text is what is tested.
func TestDDLGolden(t *testing.T) {
	for name, schema := range map[string]chsql.Schema{
		"single.sql":  {Database: "loupe"},
		"cluster.sql": {Database: "loupe", Cluster: "loupe_cluster"},
	} {
		t.Run(name, func(t *testing.T) {
			got := chsql.ExpandAll(schema, component, migrations(schema))
			path := filepath.Join("testdata", name)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			require.Equal(t, string(want), got)
		})
	}
}
