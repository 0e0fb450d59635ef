package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bad input to loupe migrate gets a clear error before anything is opened or copied. (The
// copy itself: internal/migrate's tests and e2e/migrate_test.go, tag chdb.)
func TestMigrateRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) error {
		var out, errOut bytes.Buffer
		return Run(context.Background(), append([]string{"migrate"}, args...), &out, &errOut)
	}
	embedded := filepath.Join(dir, "embedded.yaml")
	require.NoError(t, os.WriteFile(embedded, []byte("data_dir: "+dir+"\n"), 0o600))

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "loupe migrate copies into ClickHouse: give --config a file with storage.backend: clickhouse (docs/scale-out.md), or --to-dsn"},
		{[]string{"--config", embedded}, "loupe migrate copies into ClickHouse"},
		{[]string{"--to-dsn", "postgres://x"}, "storage.clickhouse.dsn"},
		{[]string{"--to-dsn", "clickhouse://127.0.0.1:1/", "--database", "bad name;"}, "storage.clickhouse.database"},
		{[]string{"--to-dsn", "clickhouse://127.0.0.1:1/", "--data-dir", filepath.Join(dir, "none")},
			"none/loupe.duckdb: no such file or directory (is it the embedded backend's data_dir?)"},
		{[]string{"--to-dsn", "clickhouse://127.0.0.1:1/", "extra"}, `unknown command "extra" for "loupe migrate"`},
	} {
		err := run(tc.args...)
		require.Error(t, err, tc.args)
		require.Contains(t, err.Error(), tc.want, tc.args)
	}
}
