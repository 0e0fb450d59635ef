package duck

import (
	"context"
	"fmt"
	"path/filepath"
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
