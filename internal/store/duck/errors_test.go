package duck

import (
	"context"
	"encoding/json"
	"os"
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
		s.flushErrors(ctx) // into DuckDB, which the test reads directly
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
	s.flushErrors(ctx)
	require.True(t, s.errState.users.complete)
	s.errState.users = userPairs{loaded: true} // as after a restart with a large table
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{withUser(3, "a"), withUser(4, "c")}))
	s.flushErrors(ctx)
	require.False(t, s.errState.users.complete)
	s.errState.issues = nil // the count is read back from the table, not from the cache
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{withUser(5, "b"), withUser(6, "c"), withUser(7, "d")}))
	s.flushErrors(ctx)
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

// Acknowledged events wait in the event log until a read or a full log writes them to
// DuckDB; a Close does not flush it, so the next Open reads them back. A record cut short
// by a crash ends the replay without losing the records before it.
func TestErrorEventLogReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	ctx := context.Background()
	a, b := errtracktest.Event(1, "checkout", errtracktest.Now), errtracktest.Event(2, "checkout", errtracktest.Now)
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{a}))
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{b, a}))
	require.Len(t, s.errState.log.pending, 2, "a repeated id is logged once")
	require.NoError(t, s.Close())
	f, err := os.OpenFile(path+".errors.log", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{'}) // a record's start, as a crash leaves it
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	is, err := s.GetIssue(ctx, a.GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(2), is.Events)
	info, err := os.Stat(path + ".errors.log")
	require.NoError(t, err)
	require.Zero(t, info.Size(), "the log is emptied once its events are in DuckDB")
	// Replayed again (a crash between the commit and the truncation), they are duplicates.
	s.errState.log.replayed = false
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{a, b}))
	is, err = s.GetIssue(ctx, a.GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(2), is.Events)
}

// An event with invalid UTF-8 in what becomes its issue's title is stored with U+FFFD in
// its place: DuckDB refuses such a string, and the log's other events wait behind it.
func TestErrorInvalidUTF8Stored(t *testing.T) {
	s := openErrorsTest(t)
	ctx := context.Background()
	ev := errtracktest.Event(1, "checkout", errtracktest.Now)
	ev.Exceptions[0].Value = "bad \xff byte"
	ev.Environment = "pr\xffod"
	ok := errtracktest.Event(2, "checkout", errtracktest.Now)
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{ev}))
	require.NoError(t, s.WriteEvents(ctx, []errtrack.Event{ok}))
	is, err := s.GetIssue(ctx, ev.GroupID)
	require.NoError(t, err)
	require.Equal(t, int64(2), is.Events)
	require.Equal(t, "ZeroDivisionError: bad \uFFFD byte", is.Title)
	require.Equal(t, []string{"prod", "pr\uFFFDod"}, is.Environments)
	require.Equal(t, "bad \xff byte", ev.Exceptions[0].Value, "the caller's event is not changed")
}
