package duck

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

// A release's first-seen time stays its earliest event's while batches leave out the
// releases the store already wrote at that time or earlier (knownReleases).
func TestErrorReleasesFirstSeen(t *testing.T) {
	s := openErrorsTest(t).(*Store)
	ctx := context.Background()
	k := releaseKey{"project:1", "1.0.0"}
	write := func(n int, at time.Time) {
		t.Helper()
		require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{errtracktest.Event(n, "checkout", at)}))
	}
	firstSeen := func() time.Time {
		t.Helper()
		var ns int64
		require.NoError(t, s.db.QueryRowContext(ctx, "SELECT first_seen_ns FROM error_releases WHERE scope = ? AND release = ?",
			k.scope, k.release).Scan(&ns))
		return time.Unix(0, ns).UTC()
	}
	now := errtracktest.Now
	write(1, now)
	require.Equal(t, now, firstSeen())
	later := errtracktest.Event(2, "checkout", now.Add(time.Hour))
	require.Empty(t, batchReleases([]storedEvent{{ev: &later}}, s.knownReleases), "a later event of a known release writes nothing")
	write(2, now.Add(time.Hour))
	require.Equal(t, now, firstSeen())
	write(3, now.Add(-time.Hour))
	require.Equal(t, now.Add(-time.Hour), firstSeen(), "an earlier event of a known release lowers its time")
	require.Equal(t, now.Add(-time.Hour).UnixNano(), s.knownReleases[k])
}
