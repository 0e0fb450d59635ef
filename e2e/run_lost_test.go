package e2e

import (
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunLostAfterSIGKILL: a `loupe run` killed with SIGKILL (with its child, as SLURM
// kills a job step at its time limit) never sends its final record; once its heartbeats
// have stopped for max(3 heartbeat periods, 10s) (docs/run.md, "Lost runs") the API shows
// the run as "lost", in the list, the status filters and GET runs/{id}. A run that ended
// normally, whose heartbeats stopped earlier still, stays succeeded.
func TestRunLostAfterSIGKILL(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	s := startServer(t, t.TempDir())

	ok := exec.Command(loupeBin, "run", "--server", s.OTLPHTTP, "--heartbeat-interval", "1s", "--name", "e2e-ends", "--", "sleep", "2")
	ok.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := ok.CombinedOutput()
	require.NoError(t, err, string(out))
	ended := runNamed(t, s, "e2e-ends", "succeeded", 10*time.Second)

	job := exec.Command(loupeBin, "run", "--server", s.OTLPHTTP, "--heartbeat-interval", "1s", "--name", "e2e-lost", "--", "sleep", "60")
	job.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	// Its own process group, so that one kill reaches loupe run and sleep.
	job.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, job.Start())
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = syscall.Kill(-job.Process.Pid, syscall.SIGKILL)
			_ = job.Wait()
		}
	}
	t.Cleanup(kill)
	running := runNamed(t, s, "e2e-lost", "running", 10*time.Second)
	kill()

	// The grace after the last heartbeat is 10s (the floor); the server only has to
	// notice it, so the bound here is generous.
	lost := runNamed(t, s, "e2e-lost", "lost", 60*time.Second)
	require.Equal(t, running.RunID, lost.RunID)
	require.Nil(t, lost.DurationSeconds, "a lost run has no end")

	ids := func(status string) []string {
		var out []string
		for _, r := range listRuns(t, s, url.Values{"status": {status}}) {
			out = append(out, r.RunID)
		}
		return out
	}
	require.Equal(t, []string{lost.RunID}, ids("lost"))
	require.Empty(t, ids("running"))
	require.Equal(t, []string{ended.RunID}, ids("succeeded"))

	var one apiEnvelope[struct {
		Run struct {
			Status           string  `json:"status"`
			HeartbeatSeconds float64 `json:"heartbeat_seconds"`
		} `json:"run"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+lost.RunID, 200, &one)
	require.Equal(t, "lost", one.Data.Run.Status)
	require.Equal(t, 1.0, one.Data.Run.HeartbeatSeconds)
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+ended.RunID, 200, &one)
	require.Equal(t, "succeeded", one.Data.Run.Status)
}
