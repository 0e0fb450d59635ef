package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunScrubsSecretsFromEverythingStored runs `loupe run` with a password in a variable
// ending in PASS, a secret SLURM variable, and credentials in a URL on the command line and in
// a variable's value, against a real server; then stops the server (so the database is
// checkpointed and closed) and reads every file of its data directory: no secret is there.
// Markers recorded through the same paths (an ordinary variable and an ordinary argument) are
// found by the same search, so a search that cannot see stored strings fails the test
// instead of passing it.
func TestRunScrubsSecretsFromEverythingStored(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	secrets := []string{"hunter2secret", "hunter3secret", "hunter4secret", "hunter5secret"}
	markers := []string{"visible-marker-7f3e", "control-marker-a1b2"}
	_, stderr, code, rec := loupeRun(t, []string{
		"MY_DB_PASS=hunter2secret", "MY_INDEX_URL=https://__token__:hunter5secret@pypi.example/simple",
		"MY_VISIBLE=visible-marker-7f3e", "SLURM_JOB_ID=9191", "SLURM_DB_PASS=hunter4secret",
	}, "--server", s.OTLPHTTP, "--name", "scrub", "--env", "MY_*", "--monitor-interval", "100ms",
		"--", "sh", "-c", "echo done; sleep 0.3", "sh", "https://bob:hunter3secret@example.com/x", "https://example.com/control-marker-a1b2")
	require.Equal(t, 0, code, stderr)
	for _, secret := range secrets {
		require.NotContains(t, stderr, secret)
	}

	// Everything of the run has arrived: the final record, the output line, the samples.
	var got struct {
		Data struct {
			Run struct {
				Status      string            `json:"status"`
				CommandLine string            `json:"command_line"`
				Env         map[string]string `json:"env"`
				Scheduler   struct {
					JobID string            `json:"job_id"`
					Vars  map[string]string `json:"vars"`
				} `json:"scheduler"`
			} `json:"run"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+rec.RunID, 200, &got)
		if got.Data.Run.Status != "succeeded" {
			return fmt.Errorf("run status %q", got.Data.Run.Status)
		}
		if logs := findLogs(t, s, url.Values{"trace_id": {rec.Telemetry.TraceID}, "attr": {"stream=stdout"}}); len(logs) != 1 || logs[0].Body != "done" {
			return fmt.Errorf("want the output line, got %+v", logs)
		}
		if res := instant(t, s, fmt.Sprintf(`loupe_run_exit_code{loupe_run_id=%q}`, rec.RunID)); len(res) != 1 {
			return fmt.Errorf("want the exit code series, got %v", res)
		}
		return nil
	})
	run := got.Data.Run
	require.Equal(t, "[REDACTED]", run.Env["MY_DB_PASS"], "the name is kept, the value is not")
	require.Equal(t, "https://__token__:[REDACTED]@pypi.example/simple", run.Env["MY_INDEX_URL"])
	require.Equal(t, "visible-marker-7f3e", run.Env["MY_VISIBLE"])
	require.Equal(t, "9191", run.Scheduler.JobID)
	require.Equal(t, "9191", run.Scheduler.Vars["SLURM_JOB_ID"])
	require.Equal(t, "[REDACTED]", run.Scheduler.Vars["SLURM_DB_PASS"])
	require.Contains(t, run.CommandLine, "https://bob:[REDACTED]@example.com/x")

	s.stop()
	found := findInDataDir(t, data, append(append([]string{}, secrets...), markers...))
	for _, m := range markers {
		require.NotEmpty(t, found[m], "marker %s not found in the data dir: the search cannot see what is stored", m)
	}
	for _, secret := range secrets {
		require.Empty(t, found[secret], "secret %s stored in %v", secret, found[secret])
	}
}
