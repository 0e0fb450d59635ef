package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
)

func errCPUTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecord records realistic Python events (errtracktest.PythonEvent: 15 frames,
// 20 breadcrumbs) through the Recorder into DuckDB: scrub, group, write, issue update.
// batch is how many events one Record call carries; events/cpu-s is the process's CPU
// time per event (DuckDB's threads included).
func BenchmarkRecord(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
			require.NoError(b, err)
			defer s.Close()
			r, err := errtrack.NewRecorder(s, errtrack.RecorderOptions{}, nil, nil)
			require.NoError(b, err)
			at := time.Now().Add(-time.Hour)
			n := 0
			b.ReportAllocs()
			cpu0 := errCPUTime(b)
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
			b.StopTimer()
			cpu := errCPUTime(b) - cpu0
			b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkRecordConcurrent records one event per Record call from 32 concurrent callers,
// as Sentry SDKs send (one event per request); the Recorder's group commit batches them.
func BenchmarkRecordConcurrent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(b, err)
	defer s.Close()
	r, err := errtrack.NewRecorder(s, errtrack.RecorderOptions{}, nil, nil)
	require.NoError(b, err)
	at := time.Now().Add(-time.Hour)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // x GOMAXPROCS callers
	cpu0 := errCPUTime(b)
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
	b.StopTimer()
	cpu := errCPUTime(b) - cpu0
	b.ReportMetric(float64(next.Load())/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkListIssues lists issues over 1M events in 10k issues (the issue 11 target:
// under 200 ms), with the sparklines the API adds (one IssuesSeries over the page).
// Filling the store takes a few minutes; skipped with -short.
func BenchmarkListIssues(b *testing.B) {
	if testing.Short() {
		b.Skip("fills 1M events")
	}
	const events, issues = 1_000_000, 10_000
	s, err := Open(filepath.Join(b.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(b, err)
	defer s.Close()
	now := time.Now().Truncate(time.Hour)
	fillStart := time.Now()
	const batch = 5000
	evs := make([]errtrack.Event, 0, batch)
	for n := range events {
		// Small events: this benchmark is about the list, not the event bodies.
		ev := errtracktest.Event(n+1, fmt.Sprintf("handler_%c%c", 'a'+(n%issues)%26, 'a'+(n%issues)/26%26), now.Add(-time.Duration(n)*time.Second))
		ev.Environment = []string{"prod", "staging"}[n%2]
		ev.Exceptions[0].Type = fmt.Sprintf("Error%c%c", 'a'+(n%issues)/676%26, 'a'+(n%issues)/17576%26)
		ev.User = &errtrack.User{ID: fmt.Sprint(n % 997)}
		errtrack.Grouper{}.Group(&ev)
		evs = append(evs, ev)
		if len(evs) == batch {
			require.NoError(b, s.WriteEvents(context.Background(), evs))
			evs = evs[:0]
		}
	}
	b.Logf("filled %d events in %s", events, time.Since(fillStart))
	page, err := s.ListIssues(context.Background(), errtrack.IssueQuery{Limit: 1})
	require.NoError(b, err)
	require.NotEmpty(b, page.Issues)
	for _, q := range []errtrack.IssueQuery{
		{Start: now.Add(-24 * time.Hour), Limit: 100},
		{Start: now.Add(-14 * 24 * time.Hour), Sort: "events", Environment: "prod", Status: errtrack.StatusUnresolved, Limit: 100},
		{Text: "handler_q", Sort: "users", Limit: 100},
	} {
		b.Run(fmt.Sprintf("sort=%s,env=%s,text=%s", q.Sort, q.Environment, q.Text), func(b *testing.B) {
			for b.Loop() {
				page, err := s.ListIssues(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				ids := make([]string, len(page.Issues))
				for i, is := range page.Issues {
					ids[i] = is.ID
				}
				end := now.Add(time.Hour)
				if _, err := s.IssuesSeries(context.Background(), ids, end.Add(-24*time.Hour), end, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
