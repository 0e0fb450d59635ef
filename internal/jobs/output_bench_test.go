package jobs

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkCopyOutput measures the pass-through and line splitting of typical log output
// (80-byte lines) with a consumer draining the shipping buffer.
func BenchmarkCopyOutput(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 79), '\n')
	data := bytes.Repeat(line, 10000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	ch := make(chan Line, 1024)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	var c outputCounters
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := copyOutput(io.Discard, bytes.NewReader(data), "stdout", 16<<10, ch, &c, time.Now); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(ch)
	<-done
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "lines/s")
}
