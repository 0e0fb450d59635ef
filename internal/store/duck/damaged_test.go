package duck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAfterTrailingBlocksFreed reopens a file whose last blocks a checkpoint freed (a
// table dropped, as retention drops a day partition). DuckDB truncates them away but the
// next open still counts them in total_blocks: the size check must not call the file
// damaged. Before the check used blocks in use, this failed with "the file has 3944448
// bytes, its 84 blocks need 22032384".
func TestOpenAfterTrailingBlocksFreed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	_, err = s.db.Exec(`CREATE TABLE keep AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(200000);
		CHECKPOINT;
		CREATE TABLE dropped AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(1000000);
		CHECKPOINT;
		DROP TABLE dropped;
		CHECKPOINT`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	var blockSize, total, free int64
	require.NoError(t, s.db.QueryRow("SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()").Scan(&blockSize, &total, &free))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	t.Logf("file of %d blocks; total_blocks %d, free %d", (fi.Size()-fileHeaderBytes)/blockSize, total, free)
	var n int64
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM keep WHERE h IS NOT NULL").Scan(&n))
	require.Equal(t, int64(200000), n)
	require.NoError(t, s.Close())
}
