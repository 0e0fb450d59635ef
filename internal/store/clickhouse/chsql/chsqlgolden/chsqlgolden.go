// Package chsqlgolden is the golden-file check of the ClickHouse packages' DDL tests. The
// cluster DDL cannot run on chDB (no Keeper, no cluster), so its text is what is reviewed
// and tested. It is not build-tagged (unlike chsqltest): the golden tests run without chDB.
// Only tests import it; it registers the -update flag in their test binary.
package chsqlgolden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Compare compares got with the file testdata/name, rewriting the file under -update.
func Compare(t testing.TB, name, got string) {
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
