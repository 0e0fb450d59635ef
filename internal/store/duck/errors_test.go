package duck

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
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
	require.Empty(t, batchReleases([]storedEvent{{ev: &later}}, s.errState.releases), "a later event of a known release writes nothing")
	write(2, now.Add(time.Hour))
	require.Equal(t, now, firstSeen())
	write(3, now.Add(-time.Hour))
	require.Equal(t, now.Add(-time.Hour), firstSeen(), "an earlier event of a known release lowers its time")
	require.Equal(t, now.Add(-time.Hour).UnixNano(), s.errState.releases[k])
}

// Past maxKnownUserPairs the store no longer knows every (issue, user) pair: it looks up
// the ones it does not know, and still counts each user of an issue once.
func TestErrorUsersLookedUp(t *testing.T) {
	s := openErrorsTest(t).(*Store)
	ctx := context.Background()
	withUser := func(n int, user string) errtrack.Event {
		ev := errtracktest.Event(n, "checkout", errtracktest.Now)
		ev.User = &errtrack.User{ID: user}
		return ev
	}
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{withUser(1, "a"), withUser(2, "b")}))
	require.True(t, s.errState.users.complete)
	s.errState.users = userPairs{loaded: true} // as after a restart with a large table
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{withUser(3, "a"), withUser(4, "c")}))
	require.False(t, s.errState.users.complete)
	s.errState.issues = nil // the count is read back from the table, not from the cache
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{withUser(5, "b"), withUser(6, "c"), withUser(7, "d")}))
	is, err := s.GetIssue(ctx, withUser(1, "a").GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(7), is.Events)
	require.Equal(t, int64(4), is.Users, "users a, b, c and d, each counted once")
}

// A database written before events were compressed (event VARCHAR holding the JSON) is
// converted when opened: its events read as before and their ids are still known.
func TestErrorEventsTextColumnConverted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	ctx := context.Background()
	ev := errtracktest.Event(1, "checkout", errtracktest.Now)
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	for _, q := range []string{
		"DROP TABLE error_events",
		strings.Replace(errorsDDL[:strings.Index(errorsDDL, ");")+2], "event BLOB", "event VARCHAR", 1),
	} {
		_, err := s.db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	_, err = s.db.ExecContext(ctx, "INSERT INTO error_events VALUES (?, ?, ?, ?, '1', 'shop', 'prod', '1.0.0', 'error', '', '', '{}', ?)",
		ev.EventID, ev.GroupID, ev.Timestamp.UnixNano(), ev.Received.UnixNano(), string(body))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetEvent(ctx, ev.EventID)
	require.NoError(t, err)
	require.Equal(t, ev.EventID, got.EventID)
	require.Equal(t, ev.Exceptions, got.Exceptions)
	require.Equal(t, ev.Extra, got.Extra)
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{ev, errtracktest.Event(2, "checkout", errtracktest.Now)}))
	page, err := s.IssueEvents(ctx, ev.GroupID, errtrack.EventQuery{})
	require.NoError(t, err)
	require.Len(t, page.Events, 2, "the stored id is skipped, the new event stored")
}
