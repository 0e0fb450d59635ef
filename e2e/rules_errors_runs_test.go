package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hasFiring reports whether m carries a firing alert named name whose labels include want.
func hasFiring(m webhookMessage, name string, want map[string]string) bool {
	for _, a := range m.Alerts {
		if a.Status != "firing" || a.Labels["alertname"] != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && a.Labels[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

// loupeRunJob runs `loupe run --name name -- cmd...` against s and returns its exit code.
func loupeRunJob(t *testing.T, s *server, name string, cmd ...string) int {
	t.Helper()
	c := exec.Command(loupeBin, append([]string{"run", "--server", s.OTLPHTTP, "--output", filepath.Join(t.TempDir(), "runs.jsonl"), "--name", name, "--"}, cmd...)...)
	c.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err, string(out))
	return 0
}

// TestRulesOnErrorsAndRuns loads examples/rules/loupe-errors-runs-rules.yml, unchanged,
// into the real binary with an embedded Alertmanager posting to a webhook in the test:
// an exception sent with the Sentry Go SDK makes a new issue and NewErrorIssue fires (a
// second event of the same issue counts no new one); `loupe run -- false` makes RunFailed
// fire for its job; and a run slower than the job's previous one fires
// RunSlowerThanLastFive.
func TestRulesOnErrorsAndRuns(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	hook := newWebhookReceiver(t)
	example, err := filepath.Abs("../examples/rules/loupe-errors-runs-rules.yml")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "alertmanager.yml"), alertmanagerConfig(hook.srv.URL)))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, sentryConfig+`
rules:
  files: ['`+example+`']
  evaluation_interval: 1s
alerting:
  alertmanager_config: alertmanager.yml
`))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	// No issue yet: the rules evaluate to nothing.
	eventually(t, 30*time.Second, func() error {
		var r rulesResponse
		getJSON(t, s.HTTP+"/api/v1/rules", 200, &r)
		if len(r.Data.Groups) != 1 || len(r.Data.Groups[0].Rules) != 4 || r.Data.Groups[0].Rules[0].Health != "ok" {
			return fmt.Errorf("rules not evaluated yet: %+v", r.Data.Groups)
		}
		return nil
	})
	require.Empty(t, instant(t, s, `ALERTS`))

	// A new issue: NewErrorIssue fires with the event's service, release and environment.
	hub := newSentryHub(t, s.dsn(sentryKeyAPI, "1"))
	hub.CaptureException(loadCart(7))
	require.True(t, hub.Flush(10*time.Second))
	want := map[string]string{"service": "shop-api", "release": "shop@2.0.0", "environment": "e2e", "severity": "ticket"}
	hook.waitMessage(t, 0, "NewErrorIssue", func(m webhookMessage) bool { return hasFiring(m, "NewErrorIssue", want) })
	require.Equal(t, 1.0, firstValue(instant(t, s, `sum(loupe_error_issues_created_total)`)))

	// The same issue again: counted as an event, not as a new issue.
	hub.CaptureException(loadCart(7))
	require.True(t, hub.Flush(10*time.Second))
	eventually(t, 30*time.Second, func() error {
		if v := firstValue(instant(t, s, `sum(loupe_error_events_total)`)); v != 2 {
			return fmt.Errorf("loupe_error_events_total = %v, want 2", v)
		}
		return nil
	})
	require.Equal(t, 1.0, firstValue(instant(t, s, `sum(loupe_error_issues_created_total)`)))

	// A failed job: RunFailed fires for it.
	require.Equal(t, 1, loupeRunJob(t, s, "nightly", "false"))
	hook.waitMessage(t, 0, "RunFailed", func(m webhookMessage) bool {
		return hasFiring(m, "RunFailed", map[string]string{"job": "nightly", "status": "failed"})
	})
	require.Equal(t, 0.0, firstValue(instant(t, s, `loupe_run_completed_success{job="nightly"}`)))

	// A run slower than 1.5 times the one before it (the mean of the runs before, up to five).
	require.Equal(t, 0, loupeRunJob(t, s, "etl", "true"))
	require.Equal(t, 0, loupeRunJob(t, s, "etl", "sleep", "1"))
	hook.waitMessage(t, 0, "RunSlowerThanLastFive", func(m webhookMessage) bool {
		return hasFiring(m, "RunSlowerThanLastFive", map[string]string{"job": "etl"})
	})
	require.Equal(t, 2.0, firstValue(instant(t, s, `sum(loupe_run_completed_total{job="etl",status="succeeded"})`)))

	// The example's rules all have summary and runbook_url: no quality warning.
	require.Equal(t, 0.0, metricSum(t, s, "loupe_rules_quality_warnings", nil))
	// The alerts changed state (inactive -> firing, no `for`), counted per rule.
	require.GreaterOrEqual(t, metricSum(t, s, "loupe_rules_alert_state_changes_total", map[string]string{"alertname": "RunFailed", "to": "firing"}), 1.0)
}
