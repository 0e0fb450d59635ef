package duck

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNewSpanPartitionsLeaveEventsToDuckDB checks the compression of a new spans
// partition (see spansSchema): attribute values are zstd, while events, present on few
// spans, are left to DuckDB's own choice, and the spans still read back with their events.
func TestNewSpanPartitionsLeaveEventsToDuckDB(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NotEmpty(t, s.spans.zstd)
	ctx := context.Background()
	for i := range 20 {
		require.NoError(t, s.WriteTraces(ctx, genTraces(i*1000, 1000)))
	}
	_, err = s.db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)
	tables := s.spans.tables(0, 0)
	require.NotEmpty(t, tables)
	compression := func(column string) string {
		var comp string
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT string_agg(DISTINCT compression, ',') FROM pragma_storage_info(?)
			WHERE column_name = ? AND segment_type = 'VARCHAR'`, tables[0], column).Scan(&comp))
		return comp
	}
	require.Equal(t, "ZSTD", compression("attr_vals"))
	require.NotContains(t, compression("events"), "ZSTD")

	var withEvents int
	require.NoError(t, s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+tables[0]+" WHERE events IS NOT NULL").Scan(&withEvents))
	require.Positive(t, withEvents, "genTraces writes some spans with events")
	td, err := s.GetTrace(ctx, benchTraceID(3))
	require.NoError(t, err)
	want := genTraces(30, 10)
	require.Equal(t, want.SpanCount(), td.SpanCount())
}
