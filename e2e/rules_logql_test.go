package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// A Loki ruler file, unchanged: Prometheus' rule format with LogQL expressions.
const logqlE2ERules = `groups:
  - name: checkout-logs
    rules:
      - record: service:log_errors:count1m
        expr: sum by (service_name) (count_over_time({service_name="checkout"} |= "error" [1m]))
      - alert: CheckoutErrorBurst
        expr: sum by (service_name) (count_over_time({service_name="checkout"} |= "error" [1m])) > 5
        for: 1s
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.service_name }} logged {{ $value }} error lines in a minute"
`

// pushLokiLines pushes lines to the stream {service_name=service} through Loki push.
func pushLokiLines(t *testing.T, s *server, service string, lines ...string) {
	t.Helper()
	var vals []string
	now := time.Now()
	for i, l := range lines {
		vals = append(vals, fmt.Sprintf(`["%d",%q]`, now.Add(time.Duration(i-len(lines))*time.Millisecond).UnixNano(), l))
	}
	body := fmt.Sprintf(`{"streams":[{"stream":{"service_name":%q},"values":[%s]}]}`, service, strings.Join(vals, ","))
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(b))
}

// TestLogQLRulesAlertToWebhook runs the real binary with a LogQL rule file in
// rules.logql_files and the embedded Alertmanager: a burst of error lines pushed through
// Loki push fires the LogQL alert, which reaches a webhook in the test with a link to the
// LogQL view; the recording rule's series is queryable with PromQL; Loki's rules APIs
// and Prometheus' list the group; a reload with a LogQL syntax error is
// refused naming the file, group and rule, and the running rules keep evaluating.
func TestLogQLRulesAlertToWebhook(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	hook := newWebhookReceiver(t)
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "checkout.logql.yml")
	require.NoError(t, writeFile(rulesPath, logqlE2ERules))
	require.NoError(t, writeFile(filepath.Join(dir, "alertmanager.yml"), alertmanagerConfig(hook.srv.URL)))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, `rules:
  logql_files: ['*.logql.yml']
  evaluation_interval: 1s
alerting:
  alertmanager_config: alertmanager.yml
  external_url: http://loupe.example.com/
`))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	lokiRules := func() rulesResponse {
		var r rulesResponse
		getJSON(t, s.HTTP+"/prometheus/api/v1/rules", 200, &r)
		require.Equal(t, "success", r.Status)
		return r
	}
	eventually(t, 30*time.Second, func() error {
		r := lokiRules()
		if len(r.Data.Groups) != 1 || len(r.Data.Groups[0].Rules) != 2 || r.Data.Groups[0].Rules[1].Health != "ok" {
			return fmt.Errorf("rules not evaluated yet: %+v", r.Data.Groups)
		}
		return nil
	})
	g := lokiRules().Data.Groups[0]
	require.Equal(t, "checkout-logs", g.Name)
	require.Equal(t, rulesPath, g.File)
	require.Equal(t, "inactive", g.Rules[1].State)
	var prom rulesResponse
	getJSON(t, s.HTTP+"/api/v1/rules", 200, &prom)
	require.Len(t, prom.Data.Groups, 1, "/api/v1/rules lists every rule of Loupe, LogQL ones too")
	require.Equal(t, rulesPath, prom.Data.Groups[0].File)

	pushLokiLines(t, s, "checkout", "order 1 placed", "order 2 placed")
	var lines []string
	for i := range 8 {
		lines = append(lines, fmt.Sprintf("error: payment %d declined", i))
	}
	pushLokiLines(t, s, "checkout", lines...)

	m := hook.waitMessage(t, 0, "firing", func(m webhookMessage) bool { return m.Status == "firing" })
	require.Equal(t, []string{"CheckoutErrorBurst:firing"}, m.alertNames())
	a := m.Alerts[0]
	require.Equal(t, map[string]string{"alertname": "CheckoutErrorBurst", "service_name": "checkout", "severity": "page"}, a.Labels)
	require.Equal(t, "checkout logged 8 error lines in a minute", a.Annotations["summary"])
	expr := `sum by (service_name) (count_over_time({service_name="checkout"} |= "error" [1m])) > 5`
	require.Equal(t, "http://loupe.example.com/logs?"+url.Values{"mode": {"logql"}, "logql": {expr}}.Encode(), a.GeneratorURL)

	for _, path := range []string{"/prometheus/api/v1/alerts", "/api/v1/alerts"} {
		var alerts rulesResponse
		getJSON(t, s.HTTP+path, 200, &alerts)
		require.Len(t, alerts.Data.Alerts, 1, path)
		require.Equal(t, "firing", alerts.Data.Alerts[0].State)
		require.Equal(t, "8e+00", alerts.Data.Alerts[0].Value)
	}
	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `service:log_errors:count1m{service_name="checkout"}`); len(got) != 1 || firstValue(got) != 8 {
			return fmt.Errorf("service:log_errors:count1m = %v", got)
		}
		return nil
	})
	require.Equal(t, 1.0, firstValue(instant(t, s, `ALERTS{alertname="CheckoutErrorBurst",alertstate="firing"}`)))

	// Loki's ruler API: YAML by namespace (the file), read-only.
	resp, err := http.Get(s.HTTP + "/loki/api/v1/rules")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	var ns map[string][]struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record, Alert, Expr string
		} `yaml:"rules"`
	}
	require.NoError(t, yaml.Unmarshal(body, &ns), string(body))
	require.Len(t, ns[rulesPath], 1, string(body))
	require.Equal(t, "checkout-logs", ns[rulesPath][0].Name)
	require.Equal(t, expr, ns[rulesPath][0].Rules[1].Expr)
	resp, err = http.Get(s.HTTP + "/loki/api/v1/rules/" + url.PathEscape(rulesPath) + "/nosuchgroup")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Post(s.HTTP+"/loki/api/v1/rules/ns", "application/yaml", strings.NewReader("name: x\nrules: []\n"))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Contains(t, string(body), "read-only")

	// A LogQL syntax error is refused by POST /-/reload, naming the file, position, group
	// and rule; the running LogQL rules keep evaluating.
	broken := filepath.Join(dir, "broken.logql.yml")
	require.NoError(t, writeFile(broken, "groups:\n  - name: broken\n    rules:\n      - alert: Typo\n        expr: count_over_time({service_name=\"checkout\"} |= [1m]) > 1\n"))
	resp, err = http.Post(s.HTTP+"/-/reload", "", nil)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, string(body))
	require.Contains(t, string(body), broken+`: 5:15: group "broken", rule 1, "Typo": could not parse LogQL expression: parse error at line 1`)
	before := lokiRules().Data.Groups
	require.Len(t, before, 1, "the old rules keep running")
	require.Equal(t, "firing", before[0].Rules[1].State)
	lastEval := func() string {
		var r struct {
			Data struct {
				Groups []struct {
					LastEvaluation string `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		getJSON(t, s.HTTP+"/prometheus/api/v1/rules", 200, &r)
		require.Len(t, r.Data.Groups, 1)
		return r.Data.Groups[0].LastEvaluation
	}
	last := lastEval()
	eventually(t, 30*time.Second, func() error {
		if now := lastEval(); now == last {
			return fmt.Errorf("no evaluation since %s", last)
		}
		return nil
	})
}

// The example LogQL rule file loads in the server from rules.logql_files.
func TestLogQLRulesExampleLoads(t *testing.T) {
	example, err := filepath.Abs("../examples/rules/loupe-logql-rules.yml")
	require.NoError(t, err)
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "rules:\n  logql_files: ['"+example+"']\n"))
	var r rulesResponse
	getJSON(t, s.HTTP+"/prometheus/api/v1/rules", 200, &r)
	require.Len(t, r.Data.Groups, 1)
	require.Equal(t, "api-logs", r.Data.Groups[0].Name)
	require.Len(t, r.Data.Groups[0].Rules, 3)
}

// TestLogQLRulesBadFileAtStart: a LogQL rule file that does not parse stops `loupe serve`
// before it is ready, naming the file, position, group and rule; so does a PromQL file
// named in rules.logql_files, whose expressions are not LogQL.
func TestLogQLRulesBadFileAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, writeFile(bad, "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: count_over_time({a=\"b\"} |= \"x\")\n"))
	promql := filepath.Join(dir, "promql.yml")
	require.NoError(t, writeFile(promql, "groups:\n  - name: p\n    rules:\n      - alert: Down\n        expr: up == 0\n"))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "rules:\n  logql_files: [bad.yml, promql.yml]\n"))
	cmd := exec.Command(loupeBin, "serve", "--config", cfgPath, "--data-dir", t.TempDir(),
		"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
		"--statsd-listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "loupe must not start with a bad LogQL rule file:\n%s", out)
	require.Contains(t, string(out), bad+`: 5:15: group "g", rule 1, "r": could not parse LogQL expression: parse error at line 1`)
	require.Contains(t, string(out), promql+`: 5:15: group "p", rule 1, "Down": could not parse LogQL expression`)
}
