package duck

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
)

func openErrorsTest(t *testing.T) errtrack.Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestErrorsConformance(t *testing.T) {
	errtracktest.Test(t, openErrorsTest)
}

func TestErrorsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	ev := errtracktest.Event(1, "checkout", errtracktest.Now)
	require.NoError(t, s.WriteEvents(context.Background(), []errtrack.Event{ev}))
	require.NoError(t, s.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	is, err := s.GetIssue(context.Background(), ev.GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(1), is.Events)
	// The id is still known after the restart: a retry is not counted again.
	require.NoError(t, s.WriteEvents(context.Background(), []errtrack.Event{ev}))
	is, err = s.GetIssue(context.Background(), ev.GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(1), is.Events)
}
