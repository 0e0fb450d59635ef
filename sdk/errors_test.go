package sdk

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// With the server down every batch fails: the first error is printed at once, the next
// ones within 30 s are only counted, and the next line says how many there were.
func TestErrorReporterRateLimits(t *testing.T) {
	var out bytes.Buffer
	r := newErrorReporter(slog.New(slog.NewTextHandler(&out, nil)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }

	for range 100 {
		r.Handle(errors.New("connection refused"))
		now = now.Add(100 * time.Millisecond)
	}
	require.Equal(t, 1, strings.Count(out.String(), "\n"), out.String())
	require.Contains(t, out.String(), "connection refused")

	now = now.Add(errorInterval)
	r.Handle(errors.New("still refused"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[1], "still refused")
	require.Contains(t, lines[1], "errors_since_last_report=99")
}
