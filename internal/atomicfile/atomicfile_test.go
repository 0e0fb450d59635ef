package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	require.NoError(t, WriteJSON(path, map[string]int{"a": 1}))
	require.NoError(t, WriteJSON(path, map[string]int{"b": 2}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"b\": 2\n}\n", string(b))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	left, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, left, 1, "no temporary file is left behind")

	require.ErrorContains(t, WriteJSON(path, func() {}), "encode keys.json")
}
