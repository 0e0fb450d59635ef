package duck

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/runs/runstest"
)

func openRunsTest(t *testing.T) runs.Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestRunsConformance(t *testing.T) {
	runstest.Test(t, openRunsTest)
}

func TestRunsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	run := runstest.Parse(t, runstest.Record(1, "train", runs.StatusSucceeded, runstest.Now))
	require.NoError(t, s.UpsertRuns(context.Background(), []runs.Run{run}))
	require.NoError(t, s.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetRun(context.Background(), runstest.RunID(1))
	require.NoError(t, err)
	require.Equal(t, string(run.Record), string(got))
}

func TestRunsConcurrentUpserts(t *testing.T) {
	s := openRunsTest(t)
	start := runstest.Now
	errs := make(chan error, 40)
	for i := range 40 {
		status := runs.StatusRunning
		if i%2 == 1 {
			status = runs.StatusSucceeded
		}
		run := runstest.Parse(t, runstest.Record(1+(i/2)%4, "job", status, start))
		go func() { errs <- s.UpsertRuns(context.Background(), []runs.Run{run}) }()
	}
	for range 40 {
		require.NoError(t, <-errs)
	}
	page, err := s.ListRuns(context.Background(), runs.Query{})
	require.NoError(t, err)
	require.Len(t, page.Runs, 4)
	for _, r := range page.Runs {
		require.Equal(t, runs.StatusSucceeded, r.Status, r.RunID)
	}
}
