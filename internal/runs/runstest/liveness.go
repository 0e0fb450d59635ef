package runstest

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
)

// heartbeating is a running record of a `loupe run` with a 30s heartbeat, last sent at hb
// (zero: only the start-of-run record came).
func heartbeating(n int, start, hb time.Time) *jobs.Record {
	rec := Record(n, "hb", runs.StatusRunning, start)
	rec.HeartbeatSeconds = 30
	if !hb.IsZero() {
		rec.HeartbeatTime = &hb
	}
	return rec
}

// statuses lists runs with q and returns each run's status by run id as readers show it
// (runs.Live at q.Now).
func statuses(t *testing.T, s runs.Store, q runs.Query) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range list(t, s, q) {
		require.NotEqual(t, runs.StatusLost, r.Status, "lost is never stored")
		r.Live(q.Now)
		out[r.RunID] = r.Status
	}
	return out
}

func ids(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// testLiveness: a running run whose heartbeats stopped is listed as lost (runs.Live) at
// the query's Now, the status filter running/lost splits the stored running runs the same
// way, and a newer heartbeat or a final record brings it back.
func testLiveness(t *testing.T, s runs.Store) {
	start := Now.Add(-time.Hour)
	upsert(t, s,
		heartbeating(1, start, start.Add(50*time.Minute)), // lost at start+51m30s
		Record(2, "old", runs.StatusRunning, start),       // no heartbeat: never lost
		heartbeating(3, start, time.Time{}),               // lost at start+90s
		Record(4, "done", runs.StatusSucceeded, start),
	)
	at := start.Add(51 * time.Minute)
	require.Equal(t, map[string]string{RunID(1): runs.StatusRunning, RunID(2): runs.StatusRunning,
		RunID(3): runs.StatusLost, RunID(4): runs.StatusSucceeded}, statuses(t, s, runs.Query{Now: at}))
	require.Equal(t, start.Add(50*time.Minute+90*time.Second), one(t, s, RunID(1)).LostAfter)
	require.True(t, one(t, s, RunID(2)).LostAfter.IsZero())
	require.Equal(t, []string{RunID(1), RunID(2)}, ids(statuses(t, s, runs.Query{Status: runs.StatusRunning, Now: at})))
	require.Equal(t, map[string]string{RunID(3): runs.StatusLost}, statuses(t, s, runs.Query{Status: runs.StatusLost, Now: at}))

	later := start.Add(52 * time.Minute)
	require.Equal(t, []string{RunID(1), RunID(3)}, ids(statuses(t, s, runs.Query{Status: runs.StatusLost, Now: later})))

	// A newer heartbeat of run 1 makes it running again; run 3's final record, coming late,
	// replaces the lost running one.
	upsert(t, s, heartbeating(1, start, start.Add(51*time.Minute+30*time.Second)))
	upsert(t, s, Record(3, "hb", runs.StatusKilled, start))
	require.Equal(t, map[string]string{RunID(1): runs.StatusRunning, RunID(2): runs.StatusRunning,
		RunID(3): runs.StatusKilled, RunID(4): runs.StatusSucceeded}, statuses(t, s, runs.Query{Now: later}))
	require.Empty(t, statuses(t, s, runs.Query{Status: runs.StatusLost, Now: later}))
	require.Equal(t, map[string]string{RunID(3): runs.StatusKilled}, statuses(t, s, runs.Query{Status: runs.StatusKilled, Now: later}))
	// A late heartbeat never replaces the final record.
	upsert(t, s, heartbeating(3, start, later))
	require.Equal(t, runs.StatusKilled, statuses(t, s, runs.Query{Now: later})[RunID(3)])
}
