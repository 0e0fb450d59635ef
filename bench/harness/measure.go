package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// settle waits until the process has used less than 50 ms of CPU over the last second (its
// background flushes and compactions are done), at most limit, and returns its CPU time.
func settle(pid int, limit time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(limit)
	prev, err := CPUTime(pid)
	if err != nil {
		return 0, err
	}
	for {
		time.Sleep(time.Second)
		cur, err := CPUTime(pid)
		if err != nil {
			return 0, err
		}
		if cur-prev < 50*time.Millisecond || time.Now().After(deadline) {
			return cur, nil
		}
		prev = cur
	}
}

// LoadAvg returns the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// ZstdSize returns the size of the batches' OTLP protobuf compressed as one stream with
// zstd's default level (SpeedDefault, the equivalent of `zstd -3`).
func ZstdSize(batches []loadgen.Batch) (int64, error) {
	cw := &countWriter{}
	enc, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return 0, fmt.Errorf("zstd writer: %w", err)
	}
	for _, b := range batches {
		raw := b.Raw
		if raw == nil {
			raw = b.Body
		}
		if _, err := enc.Write(raw); err != nil {
			return 0, fmt.Errorf("zstd write: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return 0, fmt.Errorf("zstd close: %w", err)
	}
	return cw.n, nil
}

// tsdbBlocks returns the bytes and samples of the persisted (compacted) blocks of a
// Prometheus TSDB directory; the head and its WAL are not counted.
func tsdbBlocks(dir string) (bytes, samples int64, blocks int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read tsdb dir: %w", err)
	}
	for _, e := range entries {
		meta := filepath.Join(dir, e.Name(), "meta.json")
		f, err := os.Open(meta)
		if err != nil {
			continue
		}
		var m struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || json.Unmarshal(b, &m) != nil {
			continue
		}
		n, err := DirSize(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, 0, 0, err
		}
		bytes += n
		samples += m.Stats.NumSamples
		blocks++
	}
	return bytes, samples, blocks, nil
}

// waitForBlock polls dir until a persisted block appears or limit passes.
func waitForBlock(dir string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, _, n, err := tsdbBlocks(dir); err == nil && n > 0 {
			return true
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}
