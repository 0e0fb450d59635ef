package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeTour runs the shell blocks of the README's tour against a real server (with
// its random ports in place of the defaults) and checks what they print.
func TestReadmeTour(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 2, "the tour has a send block and a query block")

	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	script := "set -euo pipefail\n"
	for _, b := range blocks {
		script += b[1] + "\n"
	}
	// The tour runs from the repository root, as a reader would; the binaries it builds go to
	// a temporary directory instead of bin/.
	tmp := t.TempDir()
	script = strings.NewReplacer(
		"localhost:4318", strings.TrimPrefix(s.OTLPHTTP, "http://"),
		"localhost:7070", strings.TrimPrefix(s.HTTP, "http://"),
		"./bin/loupe", loupeBin,
		"--data-dir loupe-data", "--data-dir "+dataDir,
		"bin/workload", filepath.Join(tmp, "workload"),
	).Replace(script)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "LOUPE_SERVER="+s.OTLPHTTP)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	got := string(out)
	require.Equal(t, 3, strings.Count(got, `{"partialSuccess":{}}`), got)
	require.Contains(t, got, `"name":"GET /cart"`)
	require.Contains(t, got, `"root_span_name":"GET /cart"`)
	require.Contains(t, got, `"metric":{"__name__":"cart_items","job":"shop"},"value":[`)
	require.Contains(t, got, `cart_items{job="shop"} => 3 @[`)
	require.Contains(t, got, `"resultType":"streams","result":[{"stream":{`)
	require.Equal(t, 3, strings.Count(got, `"Timeout talking to the database"`), "twice from the Loupe API, once from LogQL: %s", got)

	// The errors section: the event is an issue.
	require.Contains(t, got, `"title":"ZeroDivisionError: division by zero"`)
	require.Contains(t, got, `"status":"unresolved"`)

	// The batch job section: two recorded runs of "nightly", then their comparison.
	require.Contains(t, got, `"top":[{"function":"render","self":70,"total":70},{"function":"parse","self":30,"total":30}`)

	require.Contains(t, got, `"name":"nightly","status":"succeeded"`)
	require.Regexp(t, `"tags":\{"dataset":"v3"\}`, got)
	require.Contains(t, got, `"resources":[{"key":"duration_seconds"`)
	require.Contains(t, got, `msg="workload finished"`, "the job's own output passes through")
}
