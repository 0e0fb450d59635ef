package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dashCall sends a request to the dashboards API and decodes the envelope.
func dashCall(t *testing.T, s *server, method, path, body string) (int, map[string]any) {
	t.Helper()
	code, _, b := authedRequest(t, method, s.HTTP+"/api/loupe/v1/dashboards"+path, "", "", body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(b), &out), "%s %s: %s", method, path, b)
	return code, out
}

func dashUIDs(t *testing.T, s *server, query string) []string {
	t.Helper()
	code, a := dashCall(t, s, "GET", query, "")
	require.Equal(t, 200, code, a)
	var out []string
	for _, d := range a["data"].(map[string]any)["dashboards"].([]any) {
		out = append(out, d.(map[string]any)["uid"].(string))
	}
	return out
}

// TestDashboards drives the dashboards API of the real binary: the built-ins are listed,
// a dashboard is created, read, updated, refused on a stale version, survives a restart
// and is deleted; a Grafana dashboard imports with its report and exports back; bad input
// gets clear 4xx answers and leaves the server serving; a provisioned folder is read and
// re-read when a file changes.
func TestDashboards(t *testing.T) {
	provDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(provDir, "team.json"), []byte(`{"uid": "team", "title": "Team board", "tags": ["team"]}`), 0o644))
	grafana, err := os.ReadFile("../internal/dashboards/testdata/grafana-legacy.json")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(provDir, "legacy.json"), grafana, 0o644))
	cfg := writeConfig(t, fmt.Sprintf("dashboards:\n  provisioning_dirs: [%q]\n  provisioning_interval: 1s\n", provDir))
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--config", cfg)

	require.Equal(t, []string{"loupe-runs", "loupe-node", "legacy-host", "loupe-self", "loupe-red", "team"}, dashUIDs(t, s, ""),
		"by title: Batch-job runs, Host, Legacy host, Loupe, Service RED, Team board")
	require.Equal(t, []string{"loupe-node"}, dashUIDs(t, s, "?query=node_exporter"))

	// Create, read, update, conflict.
	code, a := dashCall(t, s, "POST", "", `{"dashboard": {"uid": "svc", "title": "Service", "panels": [
		{"id": 1, "type": "timeseries", "title": "rate", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8}, "targets": [{"expr": "rate(up[5m])"}]},
		{"id": 2, "type": "stat", "title": "up", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8}, "targets": [{"expr": "sum(up)", "instant": true}]}]}}`)
	require.Equal(t, 200, code, a)
	require.EqualValues(t, 1, a["data"].(map[string]any)["version"])
	code, a = dashCall(t, s, "PUT", "/svc", `{"version": 1, "dashboard": {"title": "Service v2", "panels": []}}`)
	require.Equal(t, 200, code, a)
	code, a = dashCall(t, s, "PUT", "/svc", `{"version": 1, "dashboard": {"title": "lost update"}}`)
	require.Equal(t, 409, code, a)
	require.Equal(t, "conflict", a["errorType"])

	// A restart keeps it, at its version.
	s.stop()
	s = startServer(t, dataDir, "--config", cfg)
	code, a = dashCall(t, s, "GET", "/svc", "")
	require.Equal(t, 200, code, a)
	d := a["data"].(map[string]any)
	require.Equal(t, "Service v2", d["dashboard"].(map[string]any)["title"])
	require.EqualValues(t, 2, d["meta"].(map[string]any)["version"])

	// Import a Grafana dashboard (graph, singlestat, table-old, a collapsed row), with
	// its report; export it and import the export: the same dashboard.
	modern, err := os.ReadFile("../internal/dashboards/testdata/grafana-modern.json")
	require.NoError(t, err)
	code, a = dashCall(t, s, "POST", "/import?save=true", string(modern))
	require.Equal(t, 200, code, a)
	imported := a["data"].(map[string]any)
	items := imported["report"].(map[string]any)["items"].([]any)
	require.NotEmpty(t, items)
	require.Contains(t, fmt.Sprint(items), `panel type "piechart"`)
	code, _, exported := authedRequest(t, "GET", s.HTTP+"/api/loupe/v1/dashboards/host-overview/export", "", "", "")
	require.Equal(t, 200, code)
	require.Contains(t, exported, `"${DS_PROMETHEUS}"`)
	code, a = dashCall(t, s, "POST", "/import", exported)
	require.Equal(t, 200, code, a)
	again := a["data"].(map[string]any)
	require.Equal(t, imported["dashboard"], again["dashboard"])
	require.EqualValues(t, 0, again["report"].(map[string]any)["unsupported"])

	// Bad input: clear 4xx answers, and the server still serves.
	bad := func(method, path, body string, status int, want string) {
		t.Helper()
		code, a := dashCall(t, s, method, path, body)
		require.Equal(t, status, code, a)
		require.Contains(t, a["error"], want)
	}
	bad("POST", "", `{"dashboard": {"title": "x", "panels": [`, 400, "malformed JSON")
	bad("POST", "", `{"dashboard": {"title": "x", "panels": [{"id": 1, "type": "piechart", "title": "P", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}}]}}`,
		400, `panels[0] (id 1, "P"): unknown panel type "piechart"`)
	bad("POST", "/import", `{"schemaVersion": 39, "panels": [`, 400, "malformed JSON")
	bad("PUT", "/team", `{"version": 1, "dashboard": {"title": "x"}}`, 403, "provisioned from")
	bad("DELETE", "/loupe-self?version=1", "", 403, "built into Loupe")
	many := func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = fmt.Sprintf(`{"id": %d, "type": "stat", "title": "s", "gridPos": {"x": 0, "y": %d, "w": 4, "h": 2}, "targets": [{"expr": "up"}]}`, i+1, 2*i)
		}
		return `{"dashboard": {"title": "many", "panels": [` + strings.Join(ps, ",") + `]}}`
	}
	code, a = dashCall(t, s, "POST", "", many(500))
	require.Equal(t, 200, code, "500 panels are accepted: %v", a["error"])
	bad("POST", "", many(1001), 400, "1001 panels: a dashboard holds at most 1000")
	getJSON(t, s.HTTP+"/-/ready", 200, nil)

	// Provisioning follows the folder.
	require.NoError(t, os.WriteFile(filepath.Join(provDir, "team.json"), []byte(`{"uid": "team", "title": "Team board, edited"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(provDir, "broken.json"), []byte(`{"title": `), 0o644))
	eventually(t, 30*time.Second, func() error {
		code, a := dashCall(t, s, "GET", "/team", "")
		if code != 200 {
			return fmt.Errorf("GET team: %d", code)
		}
		if title := a["data"].(map[string]any)["dashboard"].(map[string]any)["title"]; title != "Team board, edited" {
			return fmt.Errorf("title %v", title)
		}
		return nil
	})
	code, a = dashCall(t, s, "GET", "", "")
	require.Equal(t, 200, code)
	require.Contains(t, fmt.Sprint(a["data"].(map[string]any)["provisioningErrors"]), "broken.json")

	// Delete needs the version read.
	code, a = dashCall(t, s, "DELETE", "/svc?version=2", "")
	require.Equal(t, 200, code, a)
	code, _ = dashCall(t, s, "GET", "/svc", "")
	require.Equal(t, 404, code)
}

// TestDashboardsDocExamples runs the shell blocks of docs/dashboards.md against a real
// server and checks that each output line the doc shows (the "# ..." lines) is printed.
func TestDashboardsDocExamples(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	doc, err := os.ReadFile("../docs/dashboards.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	require.GreaterOrEqual(t, len(blocks), 4)
	s := startServer(t, t.TempDir())
	script := "set -euo pipefail\n"
	var want []string
	for _, b := range blocks {
		script += b[1] + "\n"
		for _, line := range strings.Split(b[1], "\n") {
			if out, ok := strings.CutPrefix(line, "# "); ok {
				want = append(want, out)
			}
		}
	}
	script = strings.ReplaceAll(script, "localhost:7070", strings.TrimPrefix(s.HTTP, "http://"))
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, w := range want {
		require.Contains(t, string(out), w)
	}
}

// TestDashboardsAuth: with tokens, reading dashboards needs the read scope and writing
// them the admin scope.
func TestDashboardsAuth(t *testing.T) {
	dataDir := t.TempDir()
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "read", "--name", "viewer", "--data-dir", dataDir))
	admin := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "admin", "--name", "editor", "--data-dir", dataDir))
	s := startServer(t, dataDir)
	url := s.HTTP + "/api/loupe/v1/dashboards"
	body := `{"dashboard": {"uid": "a", "title": "A"}}`
	code, _, _ := authedRequest(t, "GET", url, "", "", "")
	require.Equal(t, 401, code)
	code, _, _ = authedRequest(t, "GET", url, "Bearer "+read, "", "")
	require.Equal(t, 200, code)
	code, _, out := authedRequest(t, "POST", url, "Bearer "+read, "application/json", body)
	require.Equal(t, 403, code, out)
	require.Contains(t, out, "admin scope")
	code, _, out = authedRequest(t, "POST", url+"/import", "Bearer "+read, "application/json", `{"schemaVersion": 39}`)
	require.Equal(t, 403, code, out)
	code, _, out = authedRequest(t, "POST", url, "Bearer "+admin, "application/json", body)
	require.Equal(t, 200, code, out)
	code, _, _ = authedRequest(t, "GET", url+"/a/export", "Bearer "+read, "", "")
	require.Equal(t, 200, code)
	code, _, out = authedRequest(t, "DELETE", url+"/a?version=1", "Bearer "+read, "", "")
	require.Equal(t, 403, code, out)
}
