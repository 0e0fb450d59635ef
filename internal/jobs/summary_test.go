package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUIURL(t *testing.T) {
	f := func(server, ui, want string) {
		t.Helper()
		require.Equal(t, want, UIURL(server, ui), "%s %s", server, ui)
	}
	f("http://localhost:4318", "", "http://localhost:7070")
	f("http://127.0.0.1:4318/", "", "http://127.0.0.1:7070")
	f("https://[::1]:4318", "", "https://[::1]:7070")
	f("http://loupe.example:9999", "", "")
	f("https://loupe.example", "", "")
	f("http://localhost:4318", "https://ui.example/loupe/", "https://ui.example/loupe")
	f("", "", "")
	f(":bad", "", "")
}

func TestSummary(t *testing.T) {
	rec := testRecord()
	rec.Signal, rec.ExitCode, rec.DurationSeconds = "", 1, 3.21
	require.Equal(t, "loupe: run "+rec.RunID+" finished (exit 1, 3.2s): http://127.0.0.1:7070/runs/"+rec.RunID,
		Summary(rec, "http://127.0.0.1:7070"))
	require.Equal(t, "loupe: run "+rec.RunID+" finished (exit 1, 3.2s)", Summary(rec, ""))
	rec.Signal, rec.ExitCode, rec.DurationSeconds = "SIGKILL", 137, 90
	require.Equal(t, "loupe: run "+rec.RunID+" killed by SIGKILL (exit 137, 1m30s)", Summary(rec, ""))
	rec.Signal, rec.Error, rec.ExitCode, rec.DurationSeconds = "", "exec: not found", 127, 0.0004
	require.Equal(t, "loupe: run "+rec.RunID+" could not start (exit 127)", Summary(rec, ""))
	rec.Error, rec.ExitCode = "", 0
	require.Equal(t, "loupe: run "+rec.RunID+" finished (exit 0, 0s)", Summary(rec, ""))
	rec.DurationSeconds = 0.012
	require.Equal(t, "loupe: run "+rec.RunID+" finished (exit 0, 12ms)", Summary(rec, ""))
}
