package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
)

// openRecordBench returns a Recorder writing to a new store, closed when b ends, and
// the count of its writes. checkpoint writes the event log to DuckDB and folds DuckDB's
// WAL into the database file: the benchmarks run it before reading the CPU time, as the
// store and DuckDB do later, so that events/cpu-s includes all the work of their events.
func openRecordBench(b *testing.B) (r *errtrack.Recorder, w *countingWriter, checkpoint func()) {
	s, _ := openBench(b)
	b.Cleanup(func() { s.Close() })
	w = &countingWriter{Writer: s}
	r, err := errtrack.NewRecorder(w, errtrack.RecorderOptions{}, nil, nil)
	require.NoError(b, err)
	return r, w, func() {
		s.flushErrors(context.Background()) // the events still in the event log
		_, err := s.db.Exec("CHECKPOINT")
		require.NoError(b, err)
	}
}

// countingWriter counts the WriteEvents calls (transactions) of the Recorder's group
// commit.
type countingWriter struct {
	errtrack.Writer
	writes atomic.Int64
}

func (w *countingWriter) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	w.writes.Add(1)
	return w.Writer.WriteEvents(ctx, events)
}

// BenchmarkRecord records realistic Python events (errtracktest.PythonEvent: 15 frames,
// 20 breadcrumbs, ~15 KB as JSON) through the Recorder into DuckDB: scrub, group, write,
// issue update, and a checkpoint at the end. batch is how many events one Record call
// carries; events/cpu-s is the process's CPU time per event (DuckDB's threads included).
func BenchmarkRecord(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			r, _, checkpoint := openRecordBench(b)
			at := time.Now().Add(-time.Hour)
			n := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				evs := make([]errtrack.Event, batch)
				for i := range evs {
					evs[i] = errtracktest.PythonEvent(n, n%20, at.Add(time.Duration(n)*time.Millisecond))
					n++
				}
				if err := r.Record(context.Background(), evs); err != nil {
					b.Fatal(err)
				}
			}
			checkpoint()
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkRecordConcurrent records one event per Record call from 32 concurrent callers,
// as Sentry SDKs send (one event per request); the Recorder's group commit batches them.
func BenchmarkRecordConcurrent(b *testing.B) {
	r, w, checkpoint := openRecordBench(b)
	at := time.Now().Add(-time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // x GOMAXPROCS callers
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(next.Add(1))
			ev := errtracktest.PythonEvent(n, n%20, at.Add(time.Duration(n)*time.Millisecond))
			if err := r.Record(context.Background(), []errtrack.Event{ev}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	checkpoint()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(next.Load())/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(next.Load())/float64(w.writes.Load()), "events/write")
}

// BenchmarkListIssues lists issues over 1M events in 10k issues (the issue 11 target:
// under 200 ms), with the sparklines the API adds (one IssuesSeries over the page). The
// tables are filled by SQL (rows as WriteEvents writes them, counters consistent), as
// writing 1M events through WriteEvents takes over 20 minutes on this machine.
func BenchmarkListIssues(b *testing.B) {
	const events, issues = 1_000_000, 10_000
	s, err := Open(filepath.Join(b.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour)
	fillStart := time.Now()
	// Event n belongs to issue n % issues and happened n*2.6 s before now (30 days in all).
	_, err = s.db.ExecContext(ctx, `INSERT INTO error_events
		SELECT printf('%032x', n), printf('%032x', n % ?), ? - n * 2600000000, ? - n * 2600000000,
			'1', 'svc' || (n % 7), CASE WHEN n % 2 = 0 THEN 'prod' ELSE 'staging' END, '1.' || (n % 5) || '.0',
			'error', 'id:' || (n % 997), '', '{"browser":"firefox"}', '{"message":"event ' || n || '"}'
		FROM range(?) t(n)`, issues, now.UnixNano(), now.UnixNano(), events)
	require.NoError(b, err)
	_, err = s.db.ExecContext(ctx, `INSERT INTO error_issues
		SELECT issue_id, 1, 'v1', 'Error' || substr(issue_id, 29) || ': handler failed', 'app.views in handler_' || substr(issue_id, 29),
			'Error', 'error', '1', min(service), CASE WHEN hash(issue_id) % 5 = 0 THEN 'resolved' ELSE 'unresolved' END, '', 0, 0,
			min(ts_ns), max(ts_ns), count(*), count(DISTINCT user_key), '1.0.0', '1.4.0',
			'["1.0.0","1.1.0","1.2.0","1.3.0","1.4.0"]', '["prod","staging"]', max(event_id)
		FROM error_events GROUP BY issue_id`)
	require.NoError(b, err)
	_, err = s.db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(b, err)
	b.Logf("filled %d events in %d issues in %s", events, issues, time.Since(fillStart))
	for _, q := range []errtrack.IssueQuery{
		{Start: now.Add(-24 * time.Hour), Limit: 100},
		{Start: now.Add(-14 * 24 * time.Hour), Sort: "events", Environment: "prod", Status: errtrack.StatusUnresolved, Limit: 100},
		{Text: "handler_1", Sort: "users", Release: "1.3.0", Limit: 100},
	} {
		b.Run(fmt.Sprintf("sort=%s,env=%s,text=%s", q.Sort, q.Environment, q.Text), func(b *testing.B) {
			for b.Loop() {
				page, err := s.ListIssues(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Issues) != 100 {
					b.Fatalf("%d issues", len(page.Issues))
				}
				ids := make([]string, len(page.Issues))
				for i, is := range page.Issues {
					ids[i] = is.ID
				}
				end := now.Add(time.Hour)
				if _, err := s.IssuesSeries(ctx, ids, end.Add(-24*time.Hour), end, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
