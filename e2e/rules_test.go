package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rulesResponse is the part of /api/v1/rules and /api/v1/alerts the tests read.
type rulesResponse struct {
	Status string `json:"status"`
	Data   struct {
		Groups []struct {
			Name  string `json:"name"`
			File  string `json:"file"`
			Rules []struct {
				Name   string `json:"name"`
				Type   string `json:"type"`
				State  string `json:"state"`
				Health string `json:"health"`
				Alerts []struct {
					State string `json:"state"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
		Alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			State       string            `json:"state"`
			Value       string            `json:"value"`
		} `json:"alerts"`
	} `json:"data"`
}

const e2eRules = `groups:
  - name: queue
    rules:
      - record: job:queue_size:max
        expr: max by (job) (queue_size)
      - alert: QueueLong
        expr: queue_size > 10
        for: 2s
        labels: {severity: page}
        annotations:
          summary: "queue of {{ $labels.job }} is {{ $value }} long"
`

// TestRulesAlertLifecycle loads a rule file named in the configuration (evaluated every
// second) and feeds the metric over StatsD: the alert goes inactive -> pending -> firing
// in /api/v1/alerts and /api/v1/rules, the recording rule's series is queryable, and a
// reload (POST /-/reload) with a broken rule file is refused with a message naming the
// file, group and rule while the old rules keep running; a SIGHUP loads the fixed file.
func TestRulesAlertLifecycle(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "queue.rules.yml")
	require.NoError(t, writeFile(rulesPath, e2eRules))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "statsd:\n  flush_interval: 1s\nrules:\n  files: ['*.rules.yml']\n  evaluation_interval: 1s\n"))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	alertState := func() string {
		var r rulesResponse
		getJSON(t, s.HTTP+"/api/v1/rules?type=alert", 200, &r)
		require.Equal(t, "success", r.Status)
		require.Len(t, r.Data.Groups, 1)
		g := r.Data.Groups[0]
		require.Equal(t, "queue", g.Name)
		require.Equal(t, rulesPath, g.File)
		require.Len(t, g.Rules, 1)
		require.Equal(t, "QueueLong", g.Rules[0].Name)
		return g.Rules[0].State
	}
	eventually(t, 30*time.Second, func() error {
		var r rulesResponse
		getJSON(t, s.HTTP+"/api/v1/rules", 200, &r)
		if len(r.Data.Groups) != 1 || len(r.Data.Groups[0].Rules) != 2 || r.Data.Groups[0].Rules[0].Health != "ok" {
			return fmt.Errorf("rules not evaluated yet: %+v", r.Data.Groups)
		}
		return nil
	})
	require.Equal(t, "inactive", alertState())

	conn, err := net.Dial("udp", s.StatsdUDP)
	require.NoError(t, err)
	_, err = conn.Write([]byte("queue.size:12|g\n"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// Poll both APIs often enough to see the 2 s pending state pass.
	var seen []string
	eventually(t, 60*time.Second, func() error {
		st := alertState()
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		var a rulesResponse
		getJSON(t, s.HTTP+"/api/v1/alerts", 200, &a)
		if st != "firing" || len(a.Data.Alerts) != 1 || a.Data.Alerts[0].State != "firing" {
			return fmt.Errorf("states seen %v; alerts %+v", seen, a.Data.Alerts)
		}
		alert := a.Data.Alerts[0]
		require.Equal(t, map[string]string{"alertname": "QueueLong", "job": "statsd", "severity": "page"}, alert.Labels)
		require.Equal(t, "queue of statsd is 12 long", alert.Annotations["summary"])
		return nil
	})
	require.Equal(t, []string{"inactive", "pending", "firing"}, seen)

	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `job:queue_size:max`); len(got) != 1 || firstValue(got) != 12 {
			return fmt.Errorf("job:queue_size:max = %v", got)
		}
		return nil
	})
	require.Equal(t, 1.0, firstValue(instant(t, s, `ALERTS{alertname="QueueLong",alertstate="firing"}`)))

	// A broken rule file is refused by POST /-/reload, naming the file, position, group
	// and rule; the running rules stay.
	broken := filepath.Join(dir, "broken.rules.yml")
	require.NoError(t, writeFile(broken, "groups:\n  - name: broken\n    rules:\n      - alert: Typo\n        expr: sum(queue_size\n"))
	resp, err := http.Post(s.HTTP+"/-/reload", "", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, string(body))
	require.Contains(t, string(body), broken+`: 5:15: group "broken", rule 1, "Typo": could not parse expression`)
	require.Equal(t, "firing", alertState(), "the old rules keep running")
	lastEval := func() string {
		var r struct {
			Data struct {
				Groups []struct {
					LastEvaluation string `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		getJSON(t, s.HTTP+"/api/v1/rules", 200, &r)
		require.Len(t, r.Data.Groups, 1)
		return r.Data.Groups[0].LastEvaluation
	}
	before := lastEval()
	eventually(t, 30*time.Second, func() error {
		if now := lastEval(); now == before {
			return fmt.Errorf("no evaluation since %s", before)
		}
		return nil
	})

	// Fixed, a SIGHUP reload goes through and both groups run.
	require.NoError(t, writeFile(broken, "groups:\n  - name: fixed\n    rules:\n      - record: queue:sum\n        expr: sum(queue_size)\n"))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `queue:sum`); len(got) != 1 || firstValue(got) != 12 {
			return fmt.Errorf("queue:sum = %v", got)
		}
		return nil
	})
}

// TestRulesBadFileAtStart: a rule file that does not parse stops `loupe serve` before it
// is ready, with the file, position, group and rule in the message.
func TestRulesBadFileAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, writeFile(bad, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: nosuchfn(up)\n"))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "rules:\n  files: [bad.yml]\n"))
	cmd := exec.Command(loupeBin, "serve", "--config", cfgPath, "--data-dir", t.TempDir(),
		"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
		"--statsd-listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "loupe must not start with a bad rule file:\n%s", out)
	require.Contains(t, string(out), bad+`: 5:15: group "g", rule 1, "A": could not parse expression`)
	require.Contains(t, string(out), `unknown function with name "nosuchfn"`)
}

// The example rule file in examples/rules passes promtool check rules and loads in the
// server, as an absolute path in rules.files.
func TestRulesExampleLoads(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/test-deps.sh)")
	}
	example, err := filepath.Abs("../examples/rules/loupe-rules.yml")
	require.NoError(t, err)
	out, err := exec.Command(bin, "check", "rules", example).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "SUCCESS: 5 rules found")

	cfgPath := writeConfig(t, "rules:\n  files: ['"+example+"']\n")
	s := startServer(t, t.TempDir(), "--config", cfgPath)
	var r rulesResponse
	getJSON(t, s.HTTP+"/api/v1/rules", 200, &r)
	var names []string
	for _, g := range r.Data.Groups {
		names = append(names, g.Name)
	}
	require.ElementsMatch(t, []string{"targets", "errors", "jobs"}, names)
}
