package chmetrics

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestClusterDDL compares the DDL of a cluster deployment with testdata/cluster.sql: it
// cannot run on chDB (no Keeper, no cluster), so its text is what is reviewed and tested.
func TestClusterDDL(t *testing.T) {
	got := chsql.ExpandAll(chsql.Schema{Database: "loupe", Cluster: "loupe_cluster"}, component, migrations)
	path := filepath.Join("testdata", "cluster.sql")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.Equal(t, string(want), got, "DDL differs from %s (go test -update rewrites it)", path)
}
