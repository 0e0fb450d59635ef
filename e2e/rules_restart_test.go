package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const restartRules = `groups:
  - name: restart
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        for: 30s
        annotations:
          summary: "always on"
          runbook_url: "https://example.com/runbooks/always-on"
`

// activeAlert is one alert of /api/v1/alerts with the time it became active.
type activeAlert struct {
	State    string    `json:"state"`
	ActiveAt time.Time `json:"activeAt"`
}

func alwaysOn(t *testing.T, s *server) (activeAlert, error) {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []activeAlert `json:"alerts"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/v1/alerts", 200, &r)
	if len(r.Data.Alerts) != 1 {
		return activeAlert{}, fmt.Errorf("alerts %+v, want one", r.Data.Alerts)
	}
	return r.Data.Alerts[0], nil
}

// TestRulesRestartKeepsPendingState: an alert with `for: 30s` is pending when the server
// restarts; after the restart it is pending again with its activeAt from before the
// restart (restored from ALERTS_FOR_STATE, shifted by the downtime as Prometheus does),
// not from the first evaluation after it, and it goes on to fire. rules.for_grace_period
// is 1s so that the 30s alert is restored (Prometheus restores only alerts whose `for` is
// at least the grace period).
func TestRulesRestartKeepsPendingState(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "restart.rules.yml"), restartRules))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, `rules:
  files: ['*.rules.yml']
  evaluation_interval: 1s
  for_grace_period: 1s
  for_outage_tolerance: 1h
`))
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--config", cfgPath)

	var before activeAlert
	eventually(t, 30*time.Second, func() error {
		a, err := alwaysOn(t, s)
		if err != nil {
			return err
		}
		if a.State != "pending" {
			return fmt.Errorf("state %s, want pending", a.State)
		}
		before = a
		return nil
	})
	// Evaluations write ALERTS_FOR_STATE, then the server stops while pending. The restored
	// activeAt is the restore time less the time pended before the stop, and the restore
	// comes after the restart's start-up and two evaluations: pending 8 s or more keeps it
	// before the restart even on a loaded machine (3 s did not always).
	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `count_over_time(ALERTS_FOR_STATE{alertname="AlwaysOn"}[1m])`); firstValue(got) < 8 {
			return fmt.Errorf("ALERTS_FOR_STATE samples %v", got)
		}
		return nil
	})
	a, err := alwaysOn(t, s)
	require.NoError(t, err)
	require.Equal(t, "pending", a.State, "the restart must come in the middle of `for`")
	stopped := time.Now()
	s.stop()

	restarted := time.Now()
	s = startServer(t, dataDir, "--config", cfgPath)
	// Prometheus restores after the second evaluation of the group (the first may lack
	// data): until then the alert is pending from the first evaluation after the restart.
	var after activeAlert
	eventually(t, 30*time.Second, func() error {
		a, err := alwaysOn(t, s)
		if err != nil {
			return err
		}
		if !a.ActiveAt.Before(restarted) {
			return fmt.Errorf("activeAt %s is not restored to before the restart at %s", a.ActiveAt, restarted)
		}
		after = a
		return nil
	})
	require.Equal(t, "pending", after.State)
	require.False(t, after.ActiveAt.Before(before.ActiveAt.Truncate(time.Second)), "activeAt %s, before the restart %s", after.ActiveAt, before.ActiveAt)
	// Prometheus moves activeAt on by the downtime (about restarted - stopped, plus the
	// start-up): the alert spends 30s pending while the server runs.
	require.True(t, after.ActiveAt.Before(before.ActiveAt.Add(restarted.Sub(stopped)+60*time.Second)))

	eventually(t, 90*time.Second, func() error {
		a, err := alwaysOn(t, s)
		if err != nil {
			return err
		}
		if a.State != "firing" {
			return fmt.Errorf("state %s, want firing", a.State)
		}
		require.Equal(t, after.ActiveAt, a.ActiveAt, "fires with the restored activeAt")
		return nil
	})
}
