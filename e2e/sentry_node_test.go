package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runSentryNode runs e2e/sentry-node/app.js (@sentry/node from npm, installed from the
// lock file when missing, as the UI's playwright-core is) with the DSN and mode.
func runSentryNode(t *testing.T, dsn, mode string) string {
	t.Helper()
	dir, err := filepath.Abs("sentry-node")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@sentry", "node")); err != nil {
		out, err := exec.Command(filepath.Join(dir, "install-deps.sh")).CombinedOutput()
		require.NoError(t, err, "install @sentry/node: %s", out)
	}
	cmd := exec.Command("node", "app.js", dsn, mode)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SHOP_PASSWORD="+sentryPassword)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// TestSentryNodeSDK: @sentry/node, unchanged, against the real binary.
func TestSentryNodeSDK(t *testing.T) {
	s := startSentryServer(t)
	out := runSentryNode(t, s.dsn(sentryKeyAPI, "1"), "all")
	lines := strings.Split(out, "\n")
	traceID := lines[len(lines)-1]
	require.Len(t, traceID, 32, out)

	waitSentryItems(t, s, "1", "event", sentryEventsProject1)
	checkSentryIssues(t, s, "TypeError", "added item 42", "shop@3.0.0", "extra.password")
	tr := waitTrace(t, s, traceID, 2)
	require.ElementsMatch(t, []string{"shop-api: GET /node-cart", "shop-api: SELECT * FROM carts"}, tr.spanNames())
	checkSentryGrouping(t, s, "RangeError", "SyntaxError", traceID, "extra.password")
	run := checkInRun(t, s, "node-nightly", "succeeded")
	require.Equal(t, "ok", run.Tags["sentry.status"])

	checkSentryRefusals(t, s, runSentryNode)
}
