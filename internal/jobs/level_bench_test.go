package jobs

import (
	"testing"
	"time"
)

// BenchmarkClassifyLines measures the severity parsing the ship loop does per output line,
// over a mix of plain lines and the formats parseLevel reads.
func BenchmarkClassifyLines(b *testing.B) {
	bodies := []string{
		"epoch 3/100 step 1200 loss=0.4312 acc=0.871 lr=0.0003 elapsed=12.3s",
		"2024-01-01 12:00:00,123 - train - INFO - saved checkpoint to /scratch/run/ckpt-1200.pt",
		`time=2024-01-01T12:00:00Z level=WARN msg="slow batch" ms=830`,
		`{"time":"2024-01-01T12:00:00Z","level":"INFO","msg":"request done","status":200}`,
	}
	lines := make([]Line, len(bodies))
	for i, s := range bodies {
		lines[i] = Line{Stream: "stderr", Time: time.Now(), Body: []byte(s), Size: len(s)}
	}
	c := newLogClassifier()
	out := make([]logEntry, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = c.add(lines[i%len(lines)], out[:0])
	}
}
