package errtrack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lifeEvent(id, release string, at time.Time) *Event {
	ev := &Event{EventID: id, Release: release, Environment: "prod", Timestamp: at, Received: at, Level: "error",
		Exceptions: []Exception{{Type: "ValueError", Value: "bad"}}}
	Grouper{}.Group(ev)
	return ev
}

func TestApplyEventLifecycle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	is, reg := ApplyEvent(Issue{}, lifeEvent("a", "1.0.0", t0), nil)
	require.False(t, reg)
	require.Equal(t, StatusUnresolved, is.Status)
	require.Equal(t, "ValueError: bad", is.Title)
	require.Equal(t, int64(1), is.Events)
	require.Equal(t, []string{"1.0.0"}, is.Releases)
	require.Equal(t, 1, is.GroupingVersion)

	// Resolved in next release: the same release does not reopen, a later one does.
	is, err := ApplyStatus(is, StatusChange{Status: StatusResolved, ResolvedInRelease: "1.0.0"})
	require.NoError(t, err)
	is, reg = ApplyEvent(is, lifeEvent("b", "1.0.0", t0.Add(time.Minute)), nil)
	require.False(t, reg)
	require.Equal(t, StatusResolved, is.Status)
	is, reg = ApplyEvent(is, lifeEvent("c", "1.1.0", t0.Add(2*time.Minute)), nil)
	require.True(t, reg)
	require.Equal(t, StatusRegressed, is.Status)
	require.Equal(t, int64(3), is.Events)
	require.Equal(t, "1.1.0", is.LastRelease)
	require.Equal(t, "1.0.0", is.FirstRelease)
	require.Equal(t, []string{"1.0.0", "1.1.0"}, is.Releases)

	// Resolved without release: any event regresses.
	is, _ = ApplyStatus(is, StatusChange{Status: StatusResolved})
	is, reg = ApplyEvent(is, lifeEvent("d", "", t0.Add(3*time.Minute)), nil)
	require.True(t, reg)

	// Ignored for a count of 2.
	is, _ = ApplyStatus(is, StatusChange{Status: StatusIgnored, IgnoreCount: 2})
	is, _ = ApplyEvent(is, lifeEvent("e", "", t0.Add(4*time.Minute)), nil)
	require.Equal(t, StatusIgnored, is.Status)
	is, _ = ApplyEvent(is, lifeEvent("f", "", t0.Add(5*time.Minute)), nil)
	require.Equal(t, StatusUnresolved, is.Status)
	require.Zero(t, is.IgnoreCount)

	// Ignored until a time.
	is, _ = ApplyStatus(is, StatusChange{Status: StatusIgnored, IgnoreUntil: t0.Add(time.Hour)})
	is, _ = ApplyEvent(is, lifeEvent("g", "", t0.Add(30*time.Minute)), nil)
	require.Equal(t, StatusIgnored, is.Status)
	is, _ = ApplyEvent(is, lifeEvent("h", "", t0.Add(time.Hour)), nil)
	require.Equal(t, StatusUnresolved, is.Status)

	// Ignored forever.
	is, _ = ApplyStatus(is, StatusChange{Status: StatusIgnored})
	is, _ = ApplyEvent(is, lifeEvent("i", "", t0.Add(48*time.Hour)), nil)
	require.Equal(t, StatusIgnored, is.Status)

	// An older event moves first seen back, not last seen.
	is, _ = ApplyEvent(is, lifeEvent("j", "0.9.0", t0.Add(-time.Hour)), nil)
	require.Equal(t, t0.Add(-time.Hour), is.FirstSeen)
	require.Equal(t, "0.9.0", is.FirstRelease)
	require.Equal(t, t0.Add(48*time.Hour), is.LastSeen)
	require.Equal(t, "i", is.LastEventID)
}

func TestStatusChangeValidate(t *testing.T) {
	bad := []StatusChange{
		{Status: "fixed"},
		{Status: StatusRegressed},
		{Status: StatusUnresolved, ResolvedInRelease: "1"},
		{Status: StatusResolved, IgnoreCount: 3},
		{Status: StatusIgnored, IgnoreCount: -1},
	}
	for _, c := range bad {
		require.Error(t, c.Validate(), "%+v", c)
	}
	require.NoError(t, StatusChange{Status: StatusIgnored, IgnoreCount: 5}.Validate())
}
