package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClickHouseBackendStartErrors: the normal binary refuses chDB's DSN, saying how to get
// a binary that opens it, and a ClickHouse that cannot be reached stops the start with an
// error naming it. (The backend itself is tested on chDB by clickhouse_test.go, tag chdb.)
func TestClickHouseBackendStartErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"chdb:///tmp/loupe-e2e-chdb":                "needs a loupe built with -tags chdb",
		"clickhouse://127.0.0.1:1/?dial_timeout=1s": "open clickhouse store: clickhouse: connect to [127.0.0.1:1]",
	} {
		dir := t.TempDir()
		config := filepath.Join(dir, "loupe.yaml")
		require.NoError(t, writeFile(config, "storage:\n  backend: clickhouse\n  clickhouse:\n    dsn: "+dsn+"\n"))
		out, err := exec.Command(loupeBin, "serve", "--config", config, "--data-dir", dir,
			"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
			"--statsd-listen", "127.0.0.1:0").CombinedOutput()
		require.Error(t, err, "%s", out)
		require.Contains(t, string(out), want)
	}
}
