package jobs

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testOptions are options for Run in tests: no server, a temp spool dir, captured output.
func testOptions(t *testing.T) Options {
	t.Helper()
	o := DefaultOptions()
	o.Server = ""
	o.SpoolDir = t.TempDir()
	o.MonitorInterval = 100 * time.Millisecond
	o.FlushInterval = 100 * time.Millisecond
	o.CaptureTimeout = 20 * time.Second
	o.Stdin = strings.NewReader("")
	o.Stdout, o.Stderr = io.Discard, io.Discard
	o.Environ = os.Environ()
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	// The real capture runs pip list and friends (seconds); its own tests cover it.
	o.Capture = func(context.Context, string, map[string]string) Environment {
		return Environment{Host: Host{Hostname: "test-host", OS: "linux"}}
	}
	return o
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
