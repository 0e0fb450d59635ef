// Package errtracktest is the conformance suite every errtrack.Store implementation must
// pass.
package errtracktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/store"
)

// Now is the time the suite's events are placed around.
var Now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// EventID returns the event id of test event n.
func EventID(n int) string { return fmt.Sprintf("%032x", n) }

// Event returns test event n: a Python ZeroDivisionError raised in function fn (one
// in-app frame), at time at, grouped.
func Event(n int, fn string, at time.Time) errtrack.Event {
	ev := errtrack.Event{
		EventID: EventID(n), Source: errtrack.SourceSentry, Project: "1", Service: "shop",
		Timestamp: at, Received: at, Level: "error", Platform: "python", Release: "1.0.0", Environment: "prod",
		Exceptions: []errtrack.Exception{{Type: "ZeroDivisionError", Value: "division by zero", Frames: []errtrack.Frame{
			{Module: "flask.app", Function: "dispatch_request", Lineno: 10},
			{Module: "shop.views", Function: fn, Lineno: 20 + n, InApp: true},
		}}},
		Tags:  map[string]string{"browser": "firefox"},
		Extra: map[string]any{"n": float64(n)},
	}
	errtrack.Grouper{}.Group(&ev)
	return ev
}

// Test runs every case against a fresh store from newStore.
func Test(t *testing.T, newStore func(t *testing.T) errtrack.Store) {
	t.Run("Dedup", func(t *testing.T) { testDedup(t, newStore(t)) })
	t.Run("AtomicBatch", func(t *testing.T) { testAtomic(t, newStore(t)) })
	t.Run("Counters", func(t *testing.T) { testCounters(t, newStore(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore(t)) })
	t.Run("Regression", func(t *testing.T) { testRegression(t, newStore(t)) })
	t.Run("RegressionWithoutSemver", func(t *testing.T) { testRegressionNoSemver(t, newStore(t)) })
	t.Run("Status", func(t *testing.T) { testStatus(t, newStore(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, newStore(t)) })
	t.Run("ListSortsAndCursors", func(t *testing.T) { testListSorts(t, newStore(t)) })
	t.Run("EventsPaging", func(t *testing.T) { testEventsPaging(t, newStore(t)) })
	t.Run("GetEvent", func(t *testing.T) { testGetEvent(t, newStore(t)) })
	t.Run("TraceEvents", func(t *testing.T) { testTraceEvents(t, newStore(t)) })
	t.Run("Series", func(t *testing.T) { testSeries(t, newStore(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, newStore(t)) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, newStore(t)) })
	t.Run("LargeBatch", func(t *testing.T) { testLargeBatch(t, newStore(t)) })
}

var ctx = context.Background()

func write(t *testing.T, s errtrack.Store, evs ...errtrack.Event) {
	t.Helper()
	require.NoError(t, s.WriteEvents(ctx, evs))
}

func issue(t *testing.T, s errtrack.Store, id string) errtrack.Issue {
	t.Helper()
	is, err := s.GetIssue(ctx, id)
	require.NoError(t, err)
	return is
}

func testDedup(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	write(t, s, a, a)
	write(t, s, a)
	is := issue(t, s, a.GroupID)
	require.Equal(t, int64(1), is.Events, "a repeated event id is stored and counted once")
	page, err := s.IssueEvents(ctx, a.GroupID, errtrack.EventQuery{})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
}

func testAtomic(t *testing.T, s errtrack.Store) {
	good := Event(1, "checkout", Now)
	bad := Event(2, "checkout", Now)
	bad.GroupID = ""
	require.Error(t, s.WriteEvents(ctx, []errtrack.Event{good, bad}))
	_, err := s.GetEvent(ctx, good.EventID)
	require.ErrorIs(t, err, errtrack.ErrNotFound, "a failed batch stores nothing")
	_, err = s.GetIssue(ctx, good.GroupID)
	require.ErrorIs(t, err, errtrack.ErrNotFound)
}

func testCounters(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	b := Event(2, "checkout", Now.Add(time.Minute))
	b.Release, b.Environment, b.Level = "1.1.0", "staging", "fatal"
	c := Event(3, "checkout", Now.Add(-time.Minute)) // older, in a later batch
	c.Release = "0.9.0"
	write(t, s, a, b)
	write(t, s, c)
	require.Equal(t, a.GroupID, b.GroupID)
	is := issue(t, s, a.GroupID)
	require.Equal(t, int64(3), is.Events)
	require.Equal(t, Now.Add(-time.Minute), is.FirstSeen)
	require.Equal(t, Now.Add(time.Minute), is.LastSeen)
	require.Equal(t, b.EventID, is.LastEventID)
	require.Equal(t, "0.9.0", is.FirstRelease)
	require.Equal(t, "1.1.0", is.LastRelease)
	require.Equal(t, []string{"0.9.0", "1.0.0", "1.1.0"}, is.Releases)
	require.Equal(t, []string{"prod", "staging"}, is.Environments)
	require.Equal(t, "ZeroDivisionError: division by zero", is.Title)
	require.Equal(t, "shop.views in checkout", is.Culprit)
	require.Equal(t, "ZeroDivisionError", is.Type)
	require.Equal(t, "fatal", is.Level)
	require.Equal(t, errtrack.StatusUnresolved, is.Status)
	require.Equal(t, errtrack.GroupingVersion, is.GroupingVersion)
	require.Equal(t, a.GroupingKey, is.Fingerprint)
	require.Equal(t, "1", is.Project)
	require.Equal(t, "shop", is.Service)
}

func testUsers(t *testing.T, s errtrack.Store) {
	var evs []errtrack.Event
	for i, u := range []*errtrack.User{{ID: "1"}, {ID: "1"}, {ID: "2"}, nil, {Email: "a@b.c"}} {
		ev := Event(i+1, "checkout", Now)
		ev.User = u
		evs = append(evs, ev)
	}
	write(t, s, evs[:2]...)
	write(t, s, evs[2:]...)
	again := Event(10, "checkout", Now)
	again.User = &errtrack.User{ID: "2"}
	write(t, s, again)
	require.Equal(t, int64(3), issue(t, s, evs[0].GroupID).Users)
}

func testRegression(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	write(t, s, a)
	is, err := s.SetStatus(ctx, a.GroupID, errtrack.StatusChange{Status: errtrack.StatusResolved, ResolvedInRelease: "1.0.0"})
	require.NoError(t, err)
	require.Equal(t, errtrack.StatusResolved, is.Status)
	write(t, s, Event(2, "checkout", Now.Add(time.Minute))) // same release
	require.Equal(t, errtrack.StatusResolved, issue(t, s, a.GroupID).Status)
	later := Event(3, "checkout", Now.Add(2*time.Minute))
	later.Release = "1.0.1"
	write(t, s, later)
	is = issue(t, s, a.GroupID)
	require.Equal(t, errtrack.StatusRegressed, is.Status)
	require.Equal(t, int64(3), is.Events)
	page, err := s.ListIssues(ctx, errtrack.IssueQuery{Status: errtrack.StatusUnresolved})
	require.NoError(t, err)
	require.Len(t, page.Issues, 1, "regressed issues are unresolved ones")

	// Resolved without a release: any event regresses.
	_, err = s.SetStatus(ctx, a.GroupID, errtrack.StatusChange{Status: errtrack.StatusResolved})
	require.NoError(t, err)
	write(t, s, Event(4, "checkout", Now.Add(3*time.Minute)))
	require.Equal(t, errtrack.StatusRegressed, issue(t, s, a.GroupID).Status)
}

func testRegressionNoSemver(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	a.Release = "abc123"
	write(t, s, a)
	_, err := s.SetStatus(ctx, a.GroupID, errtrack.StatusChange{Status: errtrack.StatusResolved, ResolvedInRelease: "abc123"})
	require.NoError(t, err)
	// Another issue sees release def456 first later on.
	other := Event(2, "pay", Now.Add(time.Hour))
	other.Release = "def456"
	write(t, s, other)
	back := Event(3, "checkout", Now.Add(2*time.Hour))
	back.Release = "def456"
	write(t, s, back)
	require.Equal(t, errtrack.StatusRegressed, issue(t, s, a.GroupID).Status, "a release first seen later is newer")
}

func testStatus(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	write(t, s, a)
	_, err := s.SetStatus(ctx, "0123", errtrack.StatusChange{Status: errtrack.StatusResolved})
	require.ErrorIs(t, err, errtrack.ErrNotFound)
	_, err = s.SetStatus(ctx, a.GroupID, errtrack.StatusChange{Status: "fixed"})
	require.ErrorIs(t, err, errtrack.ErrInvalid)
	until := Now.Add(time.Hour)
	is, err := s.SetStatus(ctx, a.GroupID, errtrack.StatusChange{Status: errtrack.StatusIgnored, IgnoreUntil: until, IgnoreCount: 2})
	require.NoError(t, err)
	require.Equal(t, errtrack.StatusIgnored, is.Status)
	got := issue(t, s, a.GroupID)
	require.Equal(t, until, got.IgnoreUntil)
	require.Equal(t, int64(2), got.IgnoreCount)
	write(t, s, Event(2, "checkout", Now.Add(time.Minute)))
	require.Equal(t, int64(1), issue(t, s, a.GroupID).IgnoreCount)
	write(t, s, Event(3, "checkout", Now.Add(2*time.Minute)))
	got = issue(t, s, a.GroupID)
	require.Equal(t, errtrack.StatusUnresolved, got.Status, "the ignore count ran out")
	require.True(t, got.IgnoreUntil.IsZero())
}

// listIDs lists issue ids for q, following cursors with pages of two.
func listIDs(t *testing.T, s errtrack.Store, q errtrack.IssueQuery) []string {
	t.Helper()
	var ids []string
	q.Limit = 2
	for range 100 {
		page, err := s.ListIssues(ctx, q)
		require.NoError(t, err)
		for _, is := range page.Issues {
			ids = append(ids, is.ID)
		}
		if page.Next == "" {
			return ids
		}
		q.Cursor = page.Next
	}
	t.Fatal("cursor did not end")
	return nil
}

func testListFilters(t *testing.T, s errtrack.Store) {
	a := Event(1, "checkout", Now)
	b := Event(2, "pay", Now.Add(time.Hour))
	b.Release, b.Environment, b.Service, b.Project = "2.0.0", "staging", "billing", "2"
	c := Event(3, "login", Now.Add(2*time.Hour))
	c.Exceptions[0].Type, c.Exceptions[0].Value = "KeyError", "'user'"
	errtrack.Grouper{}.Group(&c)
	write(t, s, a, b, c)
	_, err := s.SetStatus(ctx, c.GroupID, errtrack.StatusChange{Status: errtrack.StatusIgnored})
	require.NoError(t, err)
	f := func(q errtrack.IssueQuery, want ...errtrack.Event) {
		t.Helper()
		var ids []string
		for _, w := range want {
			ids = append(ids, w.GroupID)
		}
		require.Equal(t, ids, listIDs(t, s, q))
	}
	f(errtrack.IssueQuery{}, c, b, a)
	f(errtrack.IssueQuery{Service: "billing"}, b)
	f(errtrack.IssueQuery{Project: "1"}, c, a)
	f(errtrack.IssueQuery{Environment: "staging"}, b)
	f(errtrack.IssueQuery{Release: "1.0.0"}, c, a)
	f(errtrack.IssueQuery{Status: errtrack.StatusIgnored}, c)
	f(errtrack.IssueQuery{Status: errtrack.StatusUnresolved}, b, a)
	f(errtrack.IssueQuery{Text: "keyerror"}, c)
	f(errtrack.IssueQuery{Text: "VIEWS in pay"}, b)
	f(errtrack.IssueQuery{Start: Now.Add(30 * time.Minute), End: Now.Add(90 * time.Minute)}, b)
	_, err = s.ListIssues(ctx, errtrack.IssueQuery{Sort: "title"})
	require.ErrorIs(t, err, errtrack.ErrInvalid)
	_, err = s.ListIssues(ctx, errtrack.IssueQuery{Cursor: "nope"})
	require.ErrorIs(t, err, errtrack.ErrInvalid)
	_, err = s.ListIssues(ctx, errtrack.IssueQuery{Status: "fixed"})
	require.ErrorIs(t, err, errtrack.ErrInvalid)
}

func testListSorts(t *testing.T, s errtrack.Store) {
	// Five issues: issue i has i+2 events and i distinct users, first seen i minutes after
	// Now (so first_seen, events and users order alike) and last seen at 10h - i hours.
	var want []string
	n := 100
	for i := range 5 {
		fn := fmt.Sprintf("handler_%c", 'a'+i)
		for j := 0; j <= i+1; j++ {
			at := Now.Add(time.Duration(10-i) * time.Hour)
			if j == 0 {
				at = Now.Add(time.Duration(i) * time.Minute)
			}
			ev := Event(n, fn, at)
			if j >= 1 && j <= i {
				ev.User = &errtrack.User{ID: fmt.Sprint(j)}
			}
			n++
			write(t, s, ev)
			if j == 0 {
				want = append(want, ev.GroupID)
			}
		}
	}
	rev := []string{want[4], want[3], want[2], want[1], want[0]}
	require.Equal(t, want, listIDs(t, s, errtrack.IssueQuery{}))
	require.Equal(t, want, listIDs(t, s, errtrack.IssueQuery{Sort: "last_seen"}))
	require.Equal(t, rev, listIDs(t, s, errtrack.IssueQuery{Sort: "first_seen"}))
	require.Equal(t, rev, listIDs(t, s, errtrack.IssueQuery{Sort: "events"}))
	require.Equal(t, rev, listIDs(t, s, errtrack.IssueQuery{Sort: "users"}))
	page, err := s.ListIssues(ctx, errtrack.IssueQuery{Sort: "users", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, int64(4), page.Issues[0].Users)
	require.Equal(t, int64(6), page.Issues[0].Events)
}

func testEventsPaging(t *testing.T, s errtrack.Store) {
	var evs []errtrack.Event
	for i := range 7 {
		// Two events share each timestamp, so the tie-breaker is exercised.
		evs = append(evs, Event(i+1, "checkout", Now.Add(time.Duration(i/2)*time.Second)))
	}
	write(t, s, evs...)
	var got []string
	q := errtrack.EventQuery{Limit: 3}
	for range 10 {
		page, err := s.IssueEvents(ctx, evs[0].GroupID, q)
		require.NoError(t, err)
		for _, ev := range page.Events {
			got = append(got, ev.EventID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	want := []string{EventID(7), EventID(6), EventID(5), EventID(4), EventID(3), EventID(2), EventID(1)}
	require.Equal(t, want, got, "newest first, ties by id descending")
	page, err := s.IssueEvents(ctx, "ffff", errtrack.EventQuery{})
	require.NoError(t, err)
	require.Empty(t, page.Events)
	_, err = s.IssueEvents(ctx, evs[0].GroupID, errtrack.EventQuery{Cursor: "x"})
	require.ErrorIs(t, err, errtrack.ErrInvalid)
}

func testGetEvent(t *testing.T, s errtrack.Store) {
	ev := Event(1, "checkout", Now)
	ev.User = &errtrack.User{ID: "7", Email: "a@b.c"}
	ev.Request = &errtrack.Request{Method: "POST", URL: "https://shop/checkout", Headers: map[string]string{"Accept": "*/*"}}
	ev.Breadcrumbs = []errtrack.Breadcrumb{{Timestamp: Now.Add(-time.Second), Category: "http", Message: "GET /", Data: map[string]any{"status": float64(200)}}}
	ev.TraceID, ev.SpanID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	ev.Contexts = map[string]any{"os": map[string]any{"name": "Linux"}}
	write(t, s, ev)
	got, err := s.GetEvent(ctx, ev.EventID)
	require.NoError(t, err)
	require.Equal(t, ev.Timestamp, got.Timestamp.UTC())
	got.Timestamp, got.Received = ev.Timestamp, ev.Received
	got.Breadcrumbs[0].Timestamp = ev.Breadcrumbs[0].Timestamp
	require.Equal(t, ev, got)
	_, err = s.GetEvent(ctx, EventID(99))
	require.ErrorIs(t, err, errtrack.ErrNotFound)
}

func testTraceEvents(t *testing.T, s errtrack.Store) {
	const trace = "0af7651916cd43dd8448eb211c80319c"
	var evs []errtrack.Event
	for n := range 4 {
		ev := Event(n+1, "checkout", Now.Add(time.Duration(n)*time.Second))
		if n < 3 {
			ev.TraceID = trace
		}
		evs = append(evs, ev)
	}
	write(t, s, evs...)
	ids := func(limit int) []string {
		got, err := s.TraceEvents(ctx, trace, limit)
		require.NoError(t, err)
		var out []string
		for _, ev := range got {
			require.Equal(t, trace, ev.TraceID)
			out = append(out, ev.EventID)
		}
		return out
	}
	require.Equal(t, []string{EventID(3), EventID(2), EventID(1)}, ids(0), "the trace's events, newest first")
	require.Equal(t, []string{EventID(3), EventID(2)}, ids(2))
	none, err := s.TraceEvents(ctx, "ffffffffffffffffffffffffffffffff", 0)
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)
}

func testSeries(t *testing.T, s errtrack.Store) {
	var evs []errtrack.Event
	for i, off := range []time.Duration{0, 10 * time.Minute, time.Hour, 3*time.Hour + time.Minute, 5 * time.Hour} {
		evs = append(evs, Event(i+1, "checkout", Now.Add(off)))
	}
	write(t, s, evs...)
	got, err := s.IssueSeries(ctx, evs[0].GroupID, Now, Now.Add(5*time.Hour), time.Hour)
	require.NoError(t, err)
	require.Equal(t, []errtrack.Bucket{{Start: Now, Count: 2}, {Start: Now.Add(time.Hour), Count: 1}, {Start: Now.Add(3 * time.Hour), Count: 1}}, got)
	if sr, ok := s.(errtrack.SeriesReader); ok {
		m, err := sr.IssuesSeries(ctx, []string{evs[0].GroupID, "none"}, Now, Now.Add(time.Hour), time.Hour)
		require.NoError(t, err)
		require.Equal(t, map[string][]errtrack.Bucket{evs[0].GroupID: {{Start: Now, Count: 2}}}, m)
	}
}

func testTags(t *testing.T, s errtrack.Store) {
	var evs []errtrack.Event
	for i := range 13 {
		ev := Event(i+1, "checkout", Now)
		ev.Tags = map[string]string{"browser": "firefox", "n": fmt.Sprint(i)}
		if i%3 == 0 {
			ev.Tags["browser"] = "chrome"
		}
		evs = append(evs, ev)
	}
	write(t, s, evs...)
	got, err := s.IssueTags(ctx, evs[0].GroupID)
	require.NoError(t, err)
	keys := []string{}
	for _, d := range got {
		keys = append(keys, d.Key)
	}
	require.Equal(t, []string{"browser", "environment", "level", "n", "release"}, keys)
	require.Equal(t, []errtrack.TagValue{{Value: "firefox", Count: 8}, {Value: "chrome", Count: 5}}, got[0].Values)
	require.Equal(t, []errtrack.TagValue{{Value: "prod", Count: 13}}, got[1].Values)
	require.Len(t, got[3].Values, errtrack.MaxTagValues, "at most 10 values per key")
}

func testRetention(t *testing.T, s errtrack.Store) {
	r, ok := s.(store.Retainer)
	if !ok {
		t.Skip("store has no retention")
	}
	old := Event(1, "old_bug", Now.Add(-48*time.Hour))
	mixed1 := Event(2, "checkout", Now.Add(-48*time.Hour))
	mixed2 := Event(3, "checkout", Now)
	write(t, s, old, mixed1, mixed2)
	require.NoError(t, r.DropBefore(ctx, store.SignalErrors, Now.Add(-24*time.Hour)))
	_, err := s.GetIssue(ctx, old.GroupID)
	require.ErrorIs(t, err, errtrack.ErrNotFound, "an issue whose last event passed retention goes")
	_, err = s.GetEvent(ctx, mixed1.EventID)
	require.ErrorIs(t, err, errtrack.ErrNotFound)
	is := issue(t, s, mixed2.GroupID)
	require.Equal(t, int64(2), is.Events, "counters keep counting events since first seen")
	page, err := s.IssueEvents(ctx, mixed2.GroupID, errtrack.EventQuery{})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
}

func testLargeBatch(t *testing.T, s errtrack.Store) {
	var evs []errtrack.Event
	for i := range 1000 {
		evs = append(evs, Event(i+1, fmt.Sprintf("handler_%d", i%7), Now.Add(time.Duration(i)*time.Second)))
	}
	// Function names differ only in a number, which grouping ignores: one issue.
	write(t, s, evs...)
	is := issue(t, s, evs[0].GroupID)
	require.Equal(t, int64(1000), is.Events)
}
