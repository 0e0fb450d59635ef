package crons

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// clock is the watcher's fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(s string)   { c.mu.Lock(); defer c.mu.Unlock(); c.now = at(s) }

// openStore opens a runs store (the real one, DuckDB) at path, closed at the test's end.
func openStore(t *testing.T, path string) *duck.Store {
	t.Helper()
	s, err := duck.Open(path, duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newWatcher(s runs.Store, c *clock) *Watcher {
	return New(s, s, Options{Now: c.Now}, nil)
}

// checkIn is the run the Sentry ingest makes of a check-in (internal/ingest/sentry's
// toRun): cfg nil for a check-in without monitor_config.
func checkIn(t *testing.T, id int, slug, status, start string, cfg *Config) runs.Run {
	t.Helper()
	rs := map[string]string{"in_progress": runs.StatusRunning, "ok": runs.StatusSucceeded}[status]
	if rs == "" {
		rs = runs.StatusFailed
	}
	rec := jobs.Record{RecordVersion: 1, RunID: fmt.Sprintf("%032x", id), Name: slug, Status: rs, StartTime: at(start),
		Tags: map[string]string{"source": "sentry", "sentry.project": "shop", "sentry.status": status, "environment": "prod"}}
	if rs != runs.StatusRunning {
		rec.EndTime = rec.StartTime.Add(time.Second)
		rec.DurationSeconds = 1
	}
	if cfg != nil {
		cfg.SetTags(rec.Tags)
	}
	raw, err := json.Marshal(rec)
	require.NoError(t, err)
	r, err := runs.ParseRecord(raw)
	require.NoError(t, err)
	return r
}

func mustConfig(t *testing.T, kind string, value int, unit, spec string, margin, maxRuntime int) *Config {
	t.Helper()
	c, err := NewConfig(kind, value, unit, spec, "", margin, maxRuntime)
	require.NoError(t, err)
	return &c
}

// sentryRuns lists the runs of monitor slug, newest first.
func sentryRuns(t *testing.T, s runs.Reader, slug string) []runs.Summary {
	t.Helper()
	p, err := s.ListRuns(context.Background(), runs.Query{Name: slug, Limit: runs.MaxLimit})
	require.NoError(t, err)
	return p.Runs
}

func missedStarts(t *testing.T, s runs.Reader, slug string) []string {
	t.Helper()
	var out []string
	for _, r := range sentryRuns(t, s, slug) {
		if r.Tags["sentry.status"] == StatusMissed {
			out = append(out, r.Start.Format(time.RFC3339))
		}
	}
	return out
}

func TestMissedCheckIns(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	c := &clock{}
	c.set("2026-12-06T10:00:20Z")
	w := newWatcher(s, c)
	hourly := mustConfig(t, "interval", 1, "hour", "", 5, 0)
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 1, "nightly", "ok", "2026-12-06T10:00:20Z", hourly)}))

	// Expected at 11:00, missed once 11:05 (the margin) has passed.
	c.set("2026-12-06T11:04:59Z")
	w.check(ctx)
	require.Empty(t, missedStarts(t, s, "nightly"))
	c.set("2026-12-06T11:05:00Z")
	w.check(ctx)
	require.Equal(t, []string{"2026-12-06T11:00:00Z"}, missedStarts(t, s, "nightly"))

	got := sentryRuns(t, s, "nightly")[0]
	require.Equal(t, MissedRunID("shop", "nightly", at("2026-12-06T11:00:00Z")), got.RunID)
	require.Equal(t, runs.StatusFailed, got.Status)
	require.Equal(t, map[string]string{"source": "sentry", "sentry.project": "shop", "sentry.status": "missed",
		"environment": "prod", TagSchedule: "interval 1 hour", TagMargin: "5", TagMaxRuntime: "30"}, got.Tags)
	raw, err := s.GetRun(ctx, got.RunID)
	require.NoError(t, err)
	var rec jobs.Record
	require.NoError(t, json.Unmarshal(raw, &rec))
	require.Equal(t, "Sentry check-in missed: expected at 2026-12-06T11:00:00Z, none by 2026-12-06T11:05:00Z (checkin_margin 5 minutes)", rec.Error)

	// Ticks within the slot add nothing; the next slot, 12:00, is missed in turn.
	w.check(ctx)
	c.set("2026-12-06T11:59:00Z")
	w.check(ctx)
	require.Len(t, missedStarts(t, s, "nightly"), 1)
	c.set("2026-12-06T12:05:00Z")
	w.check(ctx)
	require.Equal(t, []string{"2026-12-06T12:00:00Z", "2026-12-06T11:00:00Z"}, missedStarts(t, s, "nightly"))

	// A check-in within the margin of the 13:00 slot (late by 3 minutes) keeps it from
	// being missed; the next one is expected at 14:03.
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 2, "nightly", "ok", "2026-12-06T13:03:10Z", nil)}))
	c.set("2026-12-06T14:07:59Z")
	w.check(ctx)
	require.Len(t, missedStarts(t, s, "nightly"), 2)
	c.set("2026-12-06T14:08:00Z")
	w.check(ctx)
	require.Equal(t, "2026-12-06T14:03:00Z", missedStarts(t, s, "nightly")[0])
}

func TestMissedCheckInsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s := openStore(t, path)
	c := &clock{}
	c.set("2026-12-06T10:00:00Z")
	every5 := mustConfig(t, "crontab", 0, "", "*/5 * * * *", 1, 0)
	a := newWatcher(s, c)
	require.NoError(t, a.UpsertRuns(ctx, []runs.Run{checkIn(t, 1, "sync", "ok", "2026-12-06T10:00:00Z", every5)}))

	// b, a second watcher on the same store (as a retried write would be), learns the
	// monitor from the store and records the same slots as a: same run ids, one run each.
	b := newWatcher(s, c)
	b.check(ctx)
	c.set("2026-12-06T10:16:00Z")
	a.check(ctx)
	b.check(ctx)
	want := []string{"2026-12-06T10:15:00Z", "2026-12-06T10:10:00Z", "2026-12-06T10:05:00Z"}
	require.Equal(t, want, missedStarts(t, s, "sync"))

	// After a restart (a new watcher, a reopened store) the monitor's latest run is the
	// missed 10:15: nothing is recorded twice, and what came due while down is caught up,
	// at most MaxSlotsPerTick a tick.
	require.NoError(t, s.Close())
	s = openStore(t, path)
	c.set("2026-12-06T10:36:30Z")
	r := New(s, s, Options{Now: c.Now, MaxSlotsPerTick: 2}, nil)
	r.check(ctx)
	require.Equal(t, append([]string{"2026-12-06T10:25:00Z", "2026-12-06T10:20:00Z"}, want...), missedStarts(t, s, "sync"))
	r.check(ctx)
	require.Len(t, missedStarts(t, s, "sync"), 7) // 10:30 and 10:35
	r.check(ctx)
	require.Len(t, missedStarts(t, s, "sync"), 7)
	require.Len(t, sentryRuns(t, s, "sync"), 8)
}

func TestTimeout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s := openStore(t, path)
	c := &clock{}
	c.set("2026-12-06T10:00:00Z")
	w := newWatcher(s, c)
	daily := mustConfig(t, "crontab", 0, "", "0 10 * * *", 0, 5)
	started := checkIn(t, 1, "report", "in_progress", "2026-12-06T10:00:00Z", daily)
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{started}))

	c.set("2026-12-06T10:04:59Z")
	w.check(ctx)
	require.Equal(t, runs.StatusRunning, sentryRuns(t, s, "report")[0].Status)
	c.set("2026-12-06T10:05:00Z")
	w.check(ctx)
	rs := sentryRuns(t, s, "report")
	require.Len(t, rs, 1)
	got := rs[0]
	require.Equal(t, started.RunID, got.RunID) // the same run, finalised
	require.Equal(t, runs.StatusFailed, got.Status)
	require.Equal(t, "timeout", got.Tags["sentry.status"])
	require.Equal(t, at("2026-12-06T10:05:00Z"), got.End)
	require.InDelta(t, 300, got.DurationSeconds, 0.001)
	raw, err := s.GetRun(ctx, got.RunID)
	require.NoError(t, err)
	require.Contains(t, string(raw), "no final check-in within max_runtime 5 minutes")

	// A final check-in after the timeout is stored as it comes: the run shows how the job
	// ended.
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 1, "report", "ok", "2026-12-06T10:00:00Z", daily)}))
	require.Equal(t, runs.StatusSucceeded, sentryRuns(t, s, "report")[0].Status)

	// The in-progress check-in of a run whose final one was stored first (SDKs send
	// without waiting) is not timed out.
	c.set("2026-12-07T10:00:00Z")
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 2, "report", "ok", "2026-12-07T10:00:00Z", daily)}))
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 2, "report", "in_progress", "2026-12-07T10:00:00Z", daily),
		checkIn(t, 3, "report2", "in_progress", "2026-12-07T10:00:00Z", daily)}))
	c.set("2026-12-07T10:06:00Z")
	w.check(ctx)
	require.Equal(t, runs.StatusSucceeded, sentryRuns(t, s, "report")[0].Status)
	require.Equal(t, "timeout", sentryRuns(t, s, "report2")[0].Tags["sentry.status"])

	// A check-in still in progress at a restart is timed out by the next watcher.
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{checkIn(t, 4, "report3", "in_progress", "2026-12-07T10:10:00Z", daily)}))
	require.NoError(t, s.Close())
	s = openStore(t, path)
	c.set("2026-12-07T10:15:00Z")
	w = newWatcher(s, c)
	w.check(ctx)
	got = sentryRuns(t, s, "report3")[0]
	require.Equal(t, "timeout", got.Tags["sentry.status"], "%+v", got)
	require.Len(t, sentryRuns(t, s, "report"), 2)
}

func TestUnwatchedMonitor(t *testing.T) {
	// A monitor no check-in gave a schedule is recorded but not watched: no missed runs,
	// no timeouts. A schedule sent once is remembered, also across a restart.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s := openStore(t, path)
	c := &clock{}
	c.set("2026-12-06T10:00:00Z")
	w := newWatcher(s, c)
	require.NoError(t, w.UpsertRuns(ctx, []runs.Run{
		checkIn(t, 1, "adhoc", "in_progress", "2026-12-06T10:00:00Z", nil),
		checkIn(t, 2, "hourly", "ok", "2026-12-06T09:00:00Z", mustConfig(t, "interval", 1, "hour", "", 0, 0)),
		checkIn(t, 3, "hourly", "ok", "2026-12-06T10:00:00Z", nil),
	}))
	require.NoError(t, s.Close())
	s = openStore(t, path)
	c.set("2026-12-07T10:00:00Z")
	w = newWatcher(s, c)
	w.check(ctx)
	rs := sentryRuns(t, s, "adhoc")
	require.Len(t, rs, 1)
	require.Equal(t, runs.StatusRunning, rs[0].Status)
	starts := missedStarts(t, s, "hourly")
	require.Len(t, starts, 23) // 11:00 to 09:00 the next day; 10:00 is within its margin
	require.Equal(t, "2026-12-06T11:00:00Z", starts[len(starts)-1])
}

// TestStartShutdown: the watcher ticks by itself once started, while check-ins are
// written concurrently, and stops on Shutdown (run with -race).
func TestStartShutdown(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	c := &clock{}
	c.set("2026-12-06T10:00:00Z")
	w := New(s, s, Options{Now: c.Now, Tick: 10 * time.Millisecond}, nil)
	require.NoError(t, w.Start(ctx))
	every := mustConfig(t, "interval", 1, "minute", "", 0, 0)
	errs := make(chan error, 4)
	for i := range 4 {
		r := checkIn(t, i+1, fmt.Sprintf("m%d", i), "ok", "2026-12-06T10:00:00Z", every)
		go func() { errs <- w.UpsertRuns(ctx, []runs.Run{r}) }()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	c.set("2026-12-06T10:02:00Z")
	require.Eventually(t, func() bool {
		for i := range 4 {
			if len(missedStarts(t, s, fmt.Sprintf("m%d", i))) != 1 {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, w.Shutdown(ctx))
	require.NoError(t, w.Shutdown(ctx))
}
