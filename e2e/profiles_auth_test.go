package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProfilesIngestAuth: with tokens on, /ingest needs the ingest scope. pyroscope-go
// with the token in HTTPHeaders and loupe profile push with LOUPE_TOKEN are stored; without
// a token or with a read token they are refused.
func TestProfilesIngestAuth(t *testing.T) {
	dataDir := t.TempDir()
	ingest := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "ingest", "--name", "profiler", "--data-dir", dataDir))
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "read", "--name", "viewer", "--data-dir", dataDir))
	s := startServer(t, dataDir)

	folded := "main;work 3\n"
	for authz, want := range map[string]int{"": 401, "Bearer " + read: 403, "Bearer " + ingest: 200} {
		status, _, body := authedRequest(t, http.MethodPost, s.HTTP+"/ingest?name=folded.cpu&format=folded", authz, "text/plain", folded)
		require.Equal(t, want, status, "Authorization %.12q: %s", authz, body)
	}

	bin := buildProfburn(t)
	prog := exec.Command(bin, "push", s.HTTP, "20")
	prog.Env = append(os.Environ(), "PROFBURN_AUTH=Bearer "+ingest)
	out, err := prog.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "pyroscope error")

	file := filepath.Join(t.TempDir(), "stacks.folded")
	require.NoError(t, os.WriteFile(file, []byte(folded), 0o600))
	push := func(token string) (string, error) {
		cmd := exec.Command(loupeBin, "profile", "push", "--service", "cli", "--url", s.HTTP, file)
		cmd.Env = append(os.Environ(), "LOUPE_TOKEN="+token)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	out2, err := push("")
	require.Error(t, err)
	require.Contains(t, out2, "401")
	out2, err = push(ingest)
	require.NoError(t, err, out2)

	for _, svc := range []string{"profburn", "cli", "folded"} {
		q := url.Values{"type": {"process_cpu:samples:count:cpu:nanoseconds"}, "query": {`{service_name="` + svc + `"}`}, "start": {"now-1h"}, "end": {"now+1h"}}
		if svc == "profburn" {
			q.Set("type", cpuType)
		}
		status, _, body := authedRequest(t, http.MethodGet, s.HTTP+"/api/loupe/v1/profiles/flamegraph?"+q.Encode(), "Bearer "+read, "", "")
		require.Equal(t, 200, status, body)
		var env struct {
			Data flameGraph `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &env))
		require.Positive(t, env.Data.Total, "%s: %s", svc, body)
	}
}
