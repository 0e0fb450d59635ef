// Package runstest is the conformance suite every runs.Store implementation must pass.
package runstest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
)

// Now is the time the suite's runs are placed around.
var Now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// RunID returns the run id of test run n.
func RunID(n int) string { return fmt.Sprintf("%032x", n) }

// Record returns a final record of test run n, started at start.
func Record(n int, name, status string, start time.Time) *jobs.Record {
	rec := &jobs.Record{
		RecordVersion: 1, RunID: RunID(n), Name: name, Status: status,
		Command: []string{"python", "train.py"}, CommandLine: "python train.py", User: "alice",
		StartTime: start, EndTime: start.Add(10 * time.Second), DurationSeconds: 10,
		Host:      jobs.Host{Hostname: "node1", OS: "linux"},
		Resources: jobs.Resources{UserCPUSeconds: 1.5, SystemCPUSeconds: 0.25, PeakRSSBytes: 1 << 20, MaxRSSBytes: 1 << 19},
		Telemetry: jobs.Telemetry{TraceID: RunID(n), SpanID: "00f067aa0ba902b7"},
	}
	if status == runs.StatusFailed {
		rec.ExitCode = 3
	}
	if status == runs.StatusRunning {
		rec.EndTime, rec.DurationSeconds = time.Time{}, 0
		rec.Resources = jobs.Resources{}
	}
	return rec
}

// Parse turns a record into a runs.Run the way the server does, through its JSON.
func Parse(t testing.TB, rec *jobs.Record) runs.Run {
	t.Helper()
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	r, err := runs.ParseRecord(b)
	require.NoError(t, err)
	return r
}

// Test runs every case against a fresh store from newStore.
func Test(t *testing.T, newStore func(t *testing.T) runs.Store) {
	t.Run("FinalWinsOverRunning", func(t *testing.T) { testFinalWins(t, newStore(t)) })
	t.Run("OneBatchWithStartAndEnd", func(t *testing.T) { testOneBatch(t, newStore(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, newStore(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, newStore(t)) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, newStore(t)) })
	t.Run("Names", func(t *testing.T) { testNames(t, newStore(t)) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, newStore(t)) })
	t.Run("OddStrings", func(t *testing.T) { testOddStrings(t, newStore(t)) })
	t.Run("LargeBatch", func(t *testing.T) { testLargeBatch(t, newStore(t)) })
	t.Run("Liveness", func(t *testing.T) { testLiveness(t, newStore(t)) })
}

func upsert(t *testing.T, s runs.Store, recs ...*jobs.Record) {
	t.Helper()
	var rs []runs.Run
	for _, r := range recs {
		rs = append(rs, Parse(t, r))
	}
	require.NoError(t, s.UpsertRuns(context.Background(), rs))
}

func list(t *testing.T, s runs.Store, q runs.Query) []runs.Summary {
	t.Helper()
	page, err := s.ListRuns(context.Background(), q)
	require.NoError(t, err)
	return page.Runs
}

func one(t *testing.T, s runs.Store, id string) runs.Summary {
	t.Helper()
	for _, r := range list(t, s, runs.Query{Limit: runs.MaxLimit}) {
		if r.RunID == id {
			return r
		}
	}
	t.Fatalf("run %s not listed", id)
	return runs.Summary{}
}

func testFinalWins(t *testing.T, s runs.Store) {
	start := Now.Add(-time.Hour)
	running := Record(1, "train", runs.StatusRunning, start)
	final := Record(1, "train", runs.StatusSucceeded, start)
	final.Tags = map[string]string{"lr": "0.1"}

	// In order: running, then final.
	upsert(t, s, running)
	got := one(t, s, RunID(1))
	require.Equal(t, runs.StatusRunning, got.Status)
	require.True(t, got.End.IsZero())
	require.Zero(t, got.DurationSeconds)
	upsert(t, s, final)
	got = one(t, s, RunID(1))
	require.Equal(t, runs.StatusSucceeded, got.Status)
	require.Equal(t, start.Add(10*time.Second), got.End)
	require.Equal(t, 10.0, got.DurationSeconds)
	require.Equal(t, map[string]string{"lr": "0.1"}, got.Tags)

	// A late start marker (a retry, or a spool pushed after the output file) changes nothing.
	upsert(t, s, running)
	require.Equal(t, got, one(t, s, RunID(1)))
	// A duplicate final record neither.
	upsert(t, s, final)
	require.Equal(t, got, one(t, s, RunID(1)))

	// Out of order: final first.
	upsert(t, s, Record(2, "eval", runs.StatusFailed, start))
	upsert(t, s, Record(2, "eval", runs.StatusRunning, start))
	got = one(t, s, RunID(2))
	require.Equal(t, runs.StatusFailed, got.Status)
	require.Equal(t, 3, got.ExitCode)
	rec, err := s.GetRun(context.Background(), RunID(2))
	require.NoError(t, err)
	require.Contains(t, string(rec), `"status":"failed"`)

	// Two running records: the later wins.
	r3 := Record(3, "x", runs.StatusRunning, start)
	upsert(t, s, r3)
	r3.Tags = map[string]string{"v": "2"}
	upsert(t, s, r3)
	require.Equal(t, map[string]string{"v": "2"}, one(t, s, RunID(3)).Tags)
	require.Len(t, list(t, s, runs.Query{}), 3)
}

func testOneBatch(t *testing.T, s runs.Store) {
	start := Now.Add(-time.Hour)
	upsert(t, s, Record(1, "a", runs.StatusKilled, start), Record(1, "a", runs.StatusRunning, start),
		Record(2, "b", runs.StatusRunning, start), Record(2, "b", runs.StatusSucceeded, start),
		Record(3, "c", runs.StatusRunning, start), Record(3, "c", runs.StatusRunning, start))
	require.Equal(t, runs.StatusKilled, one(t, s, RunID(1)).Status)
	require.Equal(t, runs.StatusSucceeded, one(t, s, RunID(2)).Status)
	require.Equal(t, runs.StatusRunning, one(t, s, RunID(3)).Status)
	require.NoError(t, s.UpsertRuns(context.Background(), nil))
}

func testGet(t *testing.T, s runs.Store) {
	rec := Record(7, "train", runs.StatusSucceeded, Now)
	run := Parse(t, rec)
	require.NoError(t, s.UpsertRuns(context.Background(), []runs.Run{run}))
	got, err := s.GetRun(context.Background(), RunID(7))
	require.NoError(t, err)
	require.Equal(t, string(run.Record), string(got), "the record is kept as ingested")
	_, err = s.GetRun(context.Background(), RunID(8))
	require.ErrorIs(t, err, runs.ErrNotFound)
	require.ErrorIs(t, err, store.ErrNotFound)

	upper := Record(0xABCDEF, "upper", runs.StatusSucceeded, Now)
	upper.RunID = "0000000000000000000000000ABCDEF0"
	upsert(t, s, upper)
	_, err = s.GetRun(context.Background(), "0000000000000000000000000abcdef0")
	require.NoError(t, err, "run ids are lower-cased")
	_, err = s.GetRun(context.Background(), "0000000000000000000000000ABCDEF0")
	require.NoError(t, err, "lookups are case-insensitive")

	sum := one(t, s, RunID(7))
	require.Equal(t, runs.Summary{
		RunID: RunID(7), Name: "train", Status: "succeeded", Start: Now, End: Now.Add(10 * time.Second),
		DurationSeconds: 10, Host: "node1", User: "alice", CommandLine: "python train.py",
		Tags: map[string]string{}, PeakRSSBytes: 1 << 20, MaxRSSBytes: 1 << 19, UserCPUSeconds: 1.5,
		SysCPUSeconds: 0.25, TraceID: RunID(7),
	}, sum)
}

func testFilters(t *testing.T, s runs.Store) {
	var recs []*jobs.Record
	for i := range 12 {
		status := []string{runs.StatusSucceeded, runs.StatusFailed, runs.StatusRunning}[i%3]
		r := Record(i+1, []string{"train", "eval"}[i%2], status, Now.Add(-time.Duration(i)*time.Hour))
		r.Host.Hostname = fmt.Sprintf("node%d", i%4)
		r.Tags = map[string]string{"lr": []string{"0.1", "0.01"}[i%2], "seed": fmt.Sprint(i % 3)}
		recs = append(recs, r)
	}
	upsert(t, s, recs...)
	ids := func(q runs.Query) []int {
		var out []int
		for _, r := range list(t, s, q) {
			var n int
			_, err := fmt.Sscanf(r.RunID, "%x", &n)
			require.NoError(t, err)
			out = append(out, n)
		}
		return out
	}
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ids(runs.Query{}), "newest start first")
	require.Equal(t, []int{1, 3, 5, 7, 9, 11}, ids(runs.Query{Name: "train"}))
	require.Equal(t, []int{2, 5, 8, 11}, ids(runs.Query{Status: runs.StatusFailed}))
	require.Equal(t, []int{3, 6, 9, 12}, ids(runs.Query{Status: runs.StatusRunning}))
	require.Equal(t, []int{2, 6, 10}, ids(runs.Query{Host: "node1"}))
	require.Equal(t, []int{2, 4, 6, 8, 10, 12}, ids(runs.Query{Tags: map[string]string{"lr": "0.01"}}))
	require.Equal(t, []int{4, 10}, ids(runs.Query{Tags: map[string]string{"lr": "0.01", "seed": "0"}}))
	require.Empty(t, ids(runs.Query{Tags: map[string]string{"missing": "x"}}))
	require.Empty(t, ids(runs.Query{Tags: map[string]string{"lr": ""}}))
	require.Equal(t, []int{5}, ids(runs.Query{Name: "train", Status: runs.StatusFailed, Host: "node0"}))
	// [Start, End) on the start time: runs 3, 4 and 5 started 2, 3 and 4 hours ago.
	require.Equal(t, []int{3, 4, 5}, ids(runs.Query{Start: Now.Add(-4 * time.Hour), End: Now.Add(-time.Hour)}))
	require.Empty(t, ids(runs.Query{Start: Now.Add(time.Second)}))
	require.Empty(t, ids(runs.Query{Name: "nope"}))
}

func testPaging(t *testing.T, s runs.Store) {
	// 25 runs, pairs of them starting at the same time, so ties cross page boundaries.
	var recs []*jobs.Record
	for i := range 25 {
		recs = append(recs, Record(i+1, "job", runs.StatusSucceeded, Now.Add(-time.Duration(i/2)*time.Minute)))
	}
	upsert(t, s, recs...)
	all := list(t, s, runs.Query{})
	require.Len(t, all, 25)
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		require.True(t, a.Start.After(b.Start) || (a.Start.Equal(b.Start) && a.RunID > b.RunID), "order at %d", i)
	}
	var paged []runs.Summary
	q := runs.Query{Limit: 4}
	pages := 0
	for {
		page, err := s.ListRuns(context.Background(), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Runs), 4)
		paged = append(paged, page.Runs...)
		pages++
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
		require.Less(t, pages, 10, "paging does not end")
	}
	require.Equal(t, 7, pages)
	require.Equal(t, all, paged)

	// An exact multiple: the last full page says there is no more.
	page, err := s.ListRuns(context.Background(), runs.Query{Limit: 25})
	require.NoError(t, err)
	require.Len(t, page.Runs, 25)
	require.Empty(t, page.NextCursor)
	// The cursor keeps the filters' results consistent.
	page, err = s.ListRuns(context.Background(), runs.Query{Limit: 3, Start: Now.Add(-3 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, page.Runs, 3)
	page, err = s.ListRuns(context.Background(), runs.Query{Limit: 3, Start: Now.Add(-3 * time.Minute), Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, page.Runs, 3)
	require.Equal(t, all[3:6], page.Runs)
}

func testNames(t *testing.T, s runs.Store) {
	upsert(t, s,
		Record(1, "train", runs.StatusSucceeded, Now.Add(-3*time.Hour)),
		Record(2, "train", runs.StatusFailed, Now.Add(-time.Hour)),
		Record(3, "eval", runs.StatusRunning, Now.Add(-2*time.Hour)),
		Record(4, "old", runs.StatusSucceeded, Now.Add(-48*time.Hour)))
	names, err := s.RunNames(context.Background(), Now.Add(-24*time.Hour), Now)
	require.NoError(t, err)
	require.Equal(t, []runs.NameCount{
		{Name: "eval", Runs: 1, LastStart: Now.Add(-2 * time.Hour)},
		{Name: "train", Runs: 2, LastStart: Now.Add(-time.Hour)},
	}, names)
	names, err = s.RunNames(context.Background(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, names, 3)
	names, err = s.RunNames(context.Background(), Now, Now.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, names)
	require.NotNil(t, names)
}

func testRetention(t *testing.T, s runs.Store) {
	r, ok := s.(store.Retainer)
	if !ok {
		t.Skip("store has no retention")
	}
	upsert(t, s,
		Record(1, "new", runs.StatusSucceeded, Now),
		Record(2, "old", runs.StatusSucceeded, Now.Add(-8*24*time.Hour)),
		Record(3, "old-running", runs.StatusRunning, Now.Add(-8*24*time.Hour)))
	require.NoError(t, r.DropBefore(context.Background(), store.SignalRuns, Now.Add(-7*24*time.Hour)))
	got := list(t, s, runs.Query{})
	require.Len(t, got, 1)
	require.Equal(t, RunID(1), got[0].RunID)
	_, err := s.GetRun(context.Background(), RunID(2))
	require.ErrorIs(t, err, runs.ErrNotFound)
	// A run that arrives again after retention is stored again.
	upsert(t, s, Record(2, "old", runs.StatusSucceeded, Now.Add(-8*24*time.Hour)))
	require.Len(t, list(t, s, runs.Query{}), 2)
}

// testOddStrings stores values any valid record may hold: NUL, quotes, SQL, non-ASCII.
func testOddStrings(t *testing.T, s runs.Store) {
	rec := Record(1, "a\x00b'; DROP TABLE runs; --", runs.StatusSucceeded, Now)
	rec.Tags = map[string]string{"": "empty key", "k\x00": "v\x00", "ключ": "значение", `"q"`: "'"}
	rec.Host.Hostname = "\u2028"
	upsert(t, s, rec)
	got := one(t, s, RunID(1))
	require.Equal(t, rec.Name, got.Name)
	require.Equal(t, rec.Tags, got.Tags)
	require.Equal(t, rec.Host.Hostname, got.Host)
	for k, v := range rec.Tags {
		require.Len(t, list(t, s, runs.Query{Tags: map[string]string{k: v}}), 1, "tag %q", k)
	}
	require.Len(t, list(t, s, runs.Query{Name: rec.Name}), 1)
	raw, err := s.GetRun(context.Background(), RunID(1))
	require.NoError(t, err)
	require.Equal(t, string(Parse(t, rec).Record), string(raw))
}

// testLargeBatch upserts a spool's worth of runs in one call, each run's start record and
// final record far apart in the batch.
func testLargeBatch(t *testing.T, s runs.Store) {
	const n = 1500
	var rs []runs.Run
	for i := range n {
		rs = append(rs, Parse(t, Record(i+1, "bulk", runs.StatusRunning, Now.Add(-time.Duration(i)*time.Second))))
	}
	for i := range n {
		rs = append(rs, Parse(t, Record(i+1, "bulk", runs.StatusSucceeded, Now.Add(-time.Duration(i)*time.Second))))
	}
	require.NoError(t, s.UpsertRuns(context.Background(), rs))
	names, err := s.RunNames(context.Background(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, []runs.NameCount{{Name: "bulk", Runs: n, LastStart: Now}}, names)
	require.Empty(t, list(t, s, runs.Query{Status: runs.StatusRunning}))
}
