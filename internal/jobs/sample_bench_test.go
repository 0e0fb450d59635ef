package jobs

import (
	"context"
	"os"
	"testing"
	"time"
)

// BenchmarkTreeSample measures one sample of a process tree (this test process), which
// includes one scan of the whole process table: the per-interval cost of monitoring.
func BenchmarkTreeSample(b *testing.B) {
	s := newTreeSampler(os.Getpid(), time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.sample(ctx, time.Now())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
