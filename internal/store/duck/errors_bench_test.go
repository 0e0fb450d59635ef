package duck

import (
	"context"
	"fmt"
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
