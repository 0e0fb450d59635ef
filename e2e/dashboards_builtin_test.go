package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var dashVarRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// dashSubstitute fills a built-in's variables as a viewer with "All" selected would.
func dashSubstitute(q string) string {
	return dashVarRE.ReplaceAllStringFunc(q, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval":
			return "1m"
		case "__range":
			return "1h"
		}
		return ".+" // every variable of the built-ins is matched with =~
	})
}

// TestBuiltinDashboardsQueryData runs Loupe scraping itself and a real node_exporter,
// then runs every query of the built-in "Loupe" and "Host (node_exporter)" dashboards as
// their panels would (variables on "All"): every query is accepted, every node_exporter
// panel gets data, and so does every Loupe panel but those of rejections and OTLP.
func TestBuiltinDashboardsQueryData(t *testing.T) {
	t.Parallel() // waits on scrape intervals; see "Parallel tests" in harness_test.go
	loupePort, nodePort := freePort(t), freePort(t)
	node := exec.Command("/usr/bin/prometheus-node-exporter", fmt.Sprintf("--web.listen-address=127.0.0.1:%d", nodePort))
	require.NoError(t, node.Start())
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
	cfg := writeConfig(t, fmt.Sprintf("scrape:\n  scrape_configs:\n"+
		"    - job_name: loupe\n      scrape_interval: 1s\n      static_configs: [{targets: ['127.0.0.1:%d']}]\n"+
		"    - job_name: node\n      scrape_interval: 1s\n      static_configs: [{targets: ['127.0.0.1:%d']}]\n", loupePort, nodePort))
	s := startServer(t, t.TempDir(), "--config", cfg, "--http-listen", fmt.Sprintf("127.0.0.1:%d", loupePort))

	// Some ingest and a LogQL query, so that the per-signal and query series exist.
	push := fmt.Sprintf(`{"streams": [{"stream": {"service_name": "dash"}, "values": [["%d", "hello"]]}]}`, time.Now().UnixNano())
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode)
	getJSON(t, s.HTTP+"/loki/api/v1/query_range?query="+url.QueryEscape(`{service_name="dash"}`), 200, nil)

	// Enough samples for rates over a minute window.
	eventually(t, 60*time.Second, func() error {
		for _, q := range []string{`rate(process_cpu_seconds_total{job="loupe"}[1m])`, `rate(node_cpu_seconds_total{job="node"}[1m])`} {
			if len(instant(t, s, q)) == 0 {
				return fmt.Errorf("no data for %s yet", q)
			}
		}
		return nil
	})

	for _, uid := range []string{"loupe-self", "loupe-node"} {
		var got struct {
			Data struct {
				Dashboard struct {
					Panels []struct {
						Type    string
						Title   string
						Targets []struct{ Expr string }
					}
				}
			}
		}
		getJSON(t, s.HTTP+"/api/loupe/v1/dashboards/"+uid, 200, &got)
		withData, queried := 0, 0
		var empty []string
		for _, p := range got.Data.Dashboard.Panels {
			if len(p.Targets) == 0 {
				continue
			}
			queried++
			series := 0
			for _, tg := range p.Targets {
				q := dashSubstitute(tg.Expr)
				resp, err := http.Get(s.HTTP + "/api/v1/query?query=" + url.QueryEscape(q))
				require.NoError(t, err)
				var r promResponse
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode, "%s: panel %q: %s", uid, p.Title, q)
				require.Equal(t, "success", r.Status)
				series += len(r.Data.Result)
			}
			if series > 0 {
				withData++
			} else {
				empty = append(empty, p.Title)
			}
		}
		t.Logf("%s: %d of %d query panels have data; without: %s", uid, withData, queried, strings.Join(empty, ", "))
		// The panels left empty count what this test does not cause: rejections and OTLP.
		allowed := map[string][]string{"loupe-self": {"Rejected items by reason", "OTLP requests by code", "Rejected queries /s", "Write failures /s"}}
		require.Subset(t, allowed[uid], empty, "%s: panels without data", uid)
	}
}
