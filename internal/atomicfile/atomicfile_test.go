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

func TestReadJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	v := map[string]int{"kept": 1}
	require.NoError(t, ReadJSON(path, &v), "a missing file is no error")
	require.Equal(t, map[string]int{"kept": 1}, v)
	require.NoError(t, WriteJSON(path, map[string]int{"b": 2}))
	var got map[string]int
	require.NoError(t, ReadJSON(path, &got))
	require.Equal(t, map[string]int{"b": 2}, got)
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	require.ErrorContains(t, ReadJSON(path, &got), path+" is damaged, not valid JSON (unexpected end of JSON input): fix it or restore it from a backup")
}
