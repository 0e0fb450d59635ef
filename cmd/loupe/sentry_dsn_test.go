package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// With keys_file "" the server reads no keys file: list shows the configured keys and
// create says why it cannot add one (it used to treat the data directory as the file).
func TestSentryDSNWithoutKeysFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sentry:
  keys_file: ""
  projects:
    - {id: 1, name: api, keys: [0123456789abcdef0123456789abcdef]}
`), 0o600))
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), append([]string{"sentry-dsn"}, args...), &out, &errOut)
		return out.String(), err
	}
	out, err := run("list", "--config", cfg, "--data-dir", dir, "--url", "http://loupe:7070")
	require.NoError(t, err)
	require.Equal(t, "1\tapi\thttp://0123456789abcdef0123456789abcdef@loupe:7070/1\n", out)
	_, err = run("create", "--project", "api", "--config", cfg, "--data-dir", dir)
	require.ErrorContains(t, err, "sentry.keys_file is empty")
}
