package duck

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
)

// TestRunsTableOfAnOlderLoupe: a runs table made before lost_after_ns existed gets the
// column when the store opens; its rows read as never lost (they came from loupe run
// versions without heartbeats), and new heartbeating records can be lost.
func TestRunsTableOfAnOlderLoupe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	connector, err := duckdb.NewConnector(path, nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	ctx := context.Background()
	old := strings.Replace(runsDDL, ",\n\tlost_after_ns BIGINT", "", 1)
	require.NotEqual(t, runsDDL, old)
	_, err = db.ExecContext(ctx, old)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO runs VALUES ('`+runstest.RunID(1)+`', 'old', 'running', 'node1', 'alice', 'sleep 1', 1, NULL, NULL, 0, '', MAP {}, 0, 0, 0, 0, '', '{}')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	start := runstest.Now.Add(-time.Hour)
	hb := runstest.Record(2, "new", runs.StatusRunning, start)
	hb.HeartbeatSeconds = 30
	require.NoError(t, s.UpsertRuns(ctx, []runs.Run{runstest.Parse(t, hb)}))
	page, err := s.ListRuns(ctx, runs.Query{Status: runs.StatusRunning, Now: runstest.Now})
	require.NoError(t, err)
	require.Len(t, page.Runs, 1)
	require.Equal(t, runstest.RunID(1), page.Runs[0].RunID)
	require.True(t, page.Runs[0].LostAfter.IsZero())
	page, err = s.ListRuns(ctx, runs.Query{Status: runs.StatusLost, Now: runstest.Now})
	require.NoError(t, err)
	require.Len(t, page.Runs, 1)
	require.Equal(t, runstest.RunID(2), page.Runs[0].RunID)
}
