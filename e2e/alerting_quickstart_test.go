package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAlertingQuickstart runs docs/alerting.md's quickstart, examples/alerting, through the
// real binary: its TargetDown alert reaches Slack through Alertmanager's own Slack
// integration. The test changes only what must be local or quick: the Slack webhook URL
// (an HTTP server in the test, which reads the JSON that Slack's incoming webhooks get),
// the scrape target (a closed port, so that the target is down), and the intervals.
func TestAlertingQuickstart(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	var (
		mu     sync.Mutex
		bodies []string
	)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(slack.Close)

	dir := t.TempDir()
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	copyExample := func(name string, replace ...string) {
		b, err := os.ReadFile(filepath.Join("..", "examples", "alerting", name))
		require.NoError(t, err)
		s := string(b)
		for i := 0; i < len(replace); i += 2 {
			require.Contains(t, s, replace[i], "%s changed: update this test", name)
			s = strings.ReplaceAll(s, replace[i], replace[i+1])
		}
		require.NoError(t, writeFile(filepath.Join(dir, name), s))
	}
	copyExample("loupe.yaml",
		"127.0.0.1:9100", closed,
		"scrape_interval: 15s", "scrape_interval: 1s",
		"evaluation_interval: 15s", "evaluation_interval: 1s")
	copyExample("alerts.rules.yml", "for: 1m", "for: 0s")
	copyExample("alertmanager.yml",
		"https://hooks.slack.com/services/T000/B000/XXXXXXXX", slack.URL+"/services/T000",
		"group_wait: 30s", "group_wait: 0s")

	startServer(t, t.TempDir(), "--config", filepath.Join(dir, "loupe.yaml"))
	eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bodies {
			if strings.Contains(b, "node target "+closed+" is down") && strings.Contains(b, `"channel":"#alerts"`) &&
				strings.Contains(b, "http://localhost:7070/graph?g0.expr=") {
				return nil
			}
		}
		return fmt.Errorf("no Slack message about TargetDown among %d: %q", len(bodies), bodies)
	})
}
