package duck

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// A read binding text that is not valid UTF-8 (a client's filter value) fails with
// store.ErrBadInput, which the APIs answer with 400, not DuckDB's bind error (a 500).
func TestReadRefusesInvalidUTF8(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	rows, err := s.db.QueryContext(context.Background(), "SELECT ?", "fron\x97end")
	if err == nil {
		rows.Close()
	}
	require.ErrorIs(t, err, store.ErrBadInput)
	require.ErrorContains(t, err, "not valid UTF-8")

	var got string
	require.NoError(t, s.db.QueryRowContext(context.Background(), "SELECT ?", "front·end").Scan(&got))
	require.Equal(t, "front·end", got)
}

func TestStatsRace(t *testing.T) {
	require.True(t, statsRace(errors.New("Invalid Input Error: Perfect hash aggregate: aggregate group 10 exceeded total groups 4. This likely means that the statistics in your data source are corrupt.")))
	require.False(t, statsRace(errors.New("Invalid Input Error: could not bind parameter")))
}
