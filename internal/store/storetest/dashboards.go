package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

// DashboardStore is what the dashboard cases need from a backend.
type DashboardStore interface {
	dashboards.Store
	io.Closer
}

// DashboardOpener opens a backend keeping its data under dir, as Opener.
type DashboardOpener func(t *testing.T, dir string) DashboardStore

// RunDashboards runs the dashboard cases of the suite.
func RunDashboards(t *testing.T, open DashboardOpener) {
	fresh := func(t *testing.T) (DashboardStore, string) {
		dir := t.TempDir()
		s := open(t, dir)
		t.Cleanup(func() { _ = s.Close() })
		return s, dir
	}
	t.Run("create get list", func(t *testing.T) { s, _ := fresh(t); testDashboardCRUD(t, s) })
	t.Run("versions", func(t *testing.T) { s, _ := fresh(t); testDashboardVersions(t, s) })
	t.Run("concurrent updates", func(t *testing.T) { s, _ := fresh(t); testDashboardConcurrent(t, s) })
	t.Run("reopen", func(t *testing.T) { testDashboardReopen(t, open) })
	t.Run("history", func(t *testing.T) { s, _ := fresh(t); testDashboardHistory(t, s) })
}

func dash(uid, title string, tags ...string) dashboards.Dashboard {
	d := dashboards.Dashboard{UID: uid, Title: title, Tags: tags,
		Panels: []dashboards.Panel{{ID: 1, Type: dashboards.PanelStat, Title: "up",
			GridPos: dashboards.GridPos{W: 6, H: 4},
			Targets: []dashboards.Target{{RefID: "A", Expr: "sum(up)"}}}}}
	dashboards.Normalize(&d)
	return d
}

func testDashboardCRUD(t *testing.T, s dashboards.Store) {
	ctx := context.Background()
	list, err := s.List(ctx, dashboards.Filter{})
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, dashboards.ErrNotFound)

	for _, d := range []dashboards.Dashboard{dash("b", "Hosts", "node"), dash("a", "API latency", "red", "api"), dash("c", "api errors")} {
		v, err := s.Put(ctx, d, 0)
		require.NoError(t, err)
		require.EqualValues(t, 1, v)
	}
	rec, err := s.Get(ctx, "a")
	require.NoError(t, err)
	want := dash("a", "API latency", "red", "api")
	want.Version = 1
	require.Equal(t, want, rec.Dashboard, "the document comes back as written")
	require.EqualValues(t, 1, rec.Version)
	require.False(t, rec.Updated.IsZero())

	uids := func(f dashboards.Filter) []string {
		list, err := s.List(ctx, f)
		require.NoError(t, err)
		var out []string
		for _, sum := range list {
			out = append(out, sum.UID)
		}
		return out
	}
	require.Equal(t, []string{"c", "a", "b"}, uids(dashboards.Filter{}), "sorted by title, case-insensitively: api errors, API latency, Hosts")
	require.Equal(t, []string{"c", "a"}, uids(dashboards.Filter{Query: "API"}))
	require.Equal(t, []string{"a"}, uids(dashboards.Filter{Tag: "red"}))
	require.Equal(t, []string{"a"}, uids(dashboards.Filter{Query: "lat", Tag: "api"}))
	require.Empty(t, uids(dashboards.Filter{Tag: "ap"}), "tags match exactly")
	list, err = s.List(ctx, dashboards.Filter{Tag: "node"})
	require.NoError(t, err)
	require.Equal(t, []string{"node"}, list[0].Tags)
	require.Equal(t, "Hosts", list[0].Title)
}

func testDashboardVersions(t *testing.T, s dashboards.Store) {
	ctx := context.Background()
	d := dash("v", "Versions")
	_, err := s.Put(ctx, d, 3)
	require.ErrorIs(t, err, dashboards.ErrNotFound, "an update of a missing dashboard")
	v, err := s.Put(ctx, d, 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
	_, err = s.Put(ctx, d, 0)
	require.ErrorIs(t, err, dashboards.ErrConflict, "a second create")

	d.Title = "Versions 2"
	v, err = s.Put(ctx, d, 1)
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	d.Title = "lost update"
	_, err = s.Put(ctx, d, 1)
	require.ErrorIs(t, err, dashboards.ErrConflict, "a stale version")
	rec, err := s.Get(ctx, "v")
	require.NoError(t, err)
	require.Equal(t, "Versions 2", rec.Dashboard.Title)
	require.EqualValues(t, 2, rec.Version)

	require.ErrorIs(t, s.Delete(ctx, "v", 1), dashboards.ErrConflict)
	require.ErrorIs(t, s.Delete(ctx, "nope", 1), dashboards.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "v", 2))
	_, err = s.Get(ctx, "v")
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "v", 2), dashboards.ErrNotFound)
	v, err = s.Put(ctx, d, 0)
	require.NoError(t, err, "a deleted uid can be created again")
	require.EqualValues(t, 1, v)
}

// testDashboardConcurrent has many writers update the same version at once: exactly one
// wins each round, and no update is lost.
func testDashboardConcurrent(t *testing.T, s dashboards.Store) {
	ctx := context.Background()
	_, err := s.Put(ctx, dash("c", "Concurrent"), 0)
	require.NoError(t, err)
	const writers, rounds = 8, 5
	for round := 1; round <= rounds; round++ {
		var wg sync.WaitGroup
		wins := make(chan string, writers)
		for w := range writers {
			wg.Go(func() {
				d := dash("c", fmt.Sprintf("round %d writer %d", round, w))
				if _, err := s.Put(ctx, d, int64(round)); err == nil {
					wins <- d.Title
				} else if !assertConflict(err) {
					t.Errorf("writer %d: %v", w, err)
				}
			})
		}
		wg.Wait()
		close(wins)
		var won []string
		for title := range wins {
			won = append(won, title)
		}
		require.Len(t, won, 1, "round %d", round)
		rec, err := s.Get(ctx, "c")
		require.NoError(t, err)
		require.EqualValues(t, round+1, rec.Version)
		require.Equal(t, won[0], rec.Dashboard.Title, "the winner's write is the stored one")
	}
}

func assertConflict(err error) bool { return errors.Is(err, dashboards.ErrConflict) }

func testDashboardReopen(t *testing.T, open DashboardOpener) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	_, err := s.Put(ctx, dash("r", "Reopened", "x"), 0)
	require.NoError(t, err)
	d := dash("r", "Reopened 2", "x")
	_, err = s.Put(ctx, d, 1)
	require.NoError(t, err)
	_, err = s.Put(ctx, dash("gone", "Gone"), 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "gone", 1))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer s.Close()
	rec, err := s.Get(ctx, "r")
	require.NoError(t, err)
	d.Version = 2
	require.Equal(t, d, rec.Dashboard)
	_, err = s.Get(ctx, "gone")
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	v, err := s.Put(ctx, d, 2)
	require.NoError(t, err)
	require.EqualValues(t, 3, v, "versions continue after a restart")
	hist, err := s.Versions(ctx, "r")
	require.NoError(t, err)
	require.Len(t, hist, 3, "the history survives a restart")
	old, err := s.GetVersion(ctx, "r", 1)
	require.NoError(t, err)
	require.Equal(t, "Reopened", old.Dashboard.Title)
}

// testDashboardHistory: every save is kept (the latest MaxVersions), each readable as it
// was saved; deleting a dashboard deletes its history.
func testDashboardHistory(t *testing.T, s dashboards.Store) {
	ctx := context.Background()
	_, err := s.Versions(ctx, "h")
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	_, err = s.GetVersion(ctx, "h", 1)
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	for v := int64(1); v <= 3; v++ {
		got, err := s.Put(ctx, dash("h", fmt.Sprintf("History %d", v), "x"), v-1)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	_, err = s.Put(ctx, dash("h", "lost", "x"), 2)
	require.ErrorIs(t, err, dashboards.ErrConflict)
	hist, err := s.Versions(ctx, "h")
	require.NoError(t, err)
	require.Len(t, hist, 3, "a refused save leaves no version")
	for i, v := range hist {
		require.EqualValues(t, 3-i, v.Version, "newest first")
		require.Equal(t, fmt.Sprintf("History %d", 3-i), v.Title)
		require.False(t, v.Updated.IsZero())
	}
	rec, err := s.GetVersion(ctx, "h", 2)
	require.NoError(t, err)
	want := dash("h", "History 2", "x")
	want.Version = 2
	require.Equal(t, want, rec.Dashboard, "a version comes back as it was saved")
	require.EqualValues(t, 2, rec.Version)
	_, err = s.GetVersion(ctx, "h", 4)
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	cur, err := s.Get(ctx, "h")
	require.NoError(t, err)
	require.Equal(t, "History 3", cur.Dashboard.Title, "reading the history changes nothing")

	// Only the latest MaxVersions are kept.
	for v := int64(4); v <= dashboards.MaxVersions+5; v++ {
		_, err := s.Put(ctx, dash("h", fmt.Sprintf("History %d", v), "x"), v-1)
		require.NoError(t, err)
	}
	hist, err = s.Versions(ctx, "h")
	require.NoError(t, err)
	require.Len(t, hist, dashboards.MaxVersions)
	require.EqualValues(t, dashboards.MaxVersions+5, hist[0].Version)
	require.EqualValues(t, 6, hist[len(hist)-1].Version)
	_, err = s.GetVersion(ctx, "h", 5)
	require.ErrorIs(t, err, dashboards.ErrNotFound, "a dropped version")

	// Another dashboard's history is its own; a deleted dashboard has none, and a new one
	// of the same uid starts over.
	_, err = s.Put(ctx, dash("other", "Other"), 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "h", dashboards.MaxVersions+5))
	_, err = s.Versions(ctx, "h")
	require.ErrorIs(t, err, dashboards.ErrNotFound)
	_, err = s.Put(ctx, dash("h", "Again"), 0)
	require.NoError(t, err)
	hist, err = s.Versions(ctx, "h")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, "Again", hist[0].Title)
	other, err := s.Versions(ctx, "other")
	require.NoError(t, err)
	require.Len(t, other, 1)
}
