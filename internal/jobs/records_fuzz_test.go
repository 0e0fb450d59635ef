package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzPushRecords runs `loupe push` on a JSONL file of one arbitrary line against a server
// that accepts everything: a line that is not a run record is an error naming the line,
// a record with odd values is sent, and nothing panics.
func FuzzPushRecords(f *testing.F) {
	f.Add([]byte(`{"run_id":"r1","telemetry":{"trace_id":"0123456789abcdef0123456789abcdef","span_id":"0123456789abcdef"}}`))
	f.Add([]byte(`{"run_id":"r1","start_time":"2026-01-01T00:00:00Z","end_time":"2025-01-01T00:00:00Z","exit_code":-1,` +
		`"telemetry":{"trace_id":"zz23456789abcdef0123456789abcdef","span_id":"0123456789abcdef"},"samples":[{"t":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`not json`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	f.Cleanup(srv.Close)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, line []byte) {
		path := filepath.Join(dir, "runs.jsonl")
		if err := os.WriteFile(path, append(line, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = PushRecords(context.Background(), srv.URL, path, 5*time.Second, nil)
	})
}
