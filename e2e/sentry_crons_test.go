package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"
)

// cronsConfig is the Sentry projects with the monitors checked every second rather than
// every 30 s (sentry.crons_check_interval), so that the test waits on the schedule only.
const cronsConfig = sentryConfig + "  crons_check_interval: 1s\n"

// missedRuns lists the missed-check-in runs of monitor, newest first.
func missedRuns(t *testing.T, s *server, monitor string) []apiRun {
	t.Helper()
	var out []apiRun
	for _, r := range listRuns(t, s, url.Values{"name": {monitor}}) {
		if r.Tags["sentry.status"] == "missed" {
			out = append(out, r)
		}
	}
	return out
}

// TestSentryCrons: check-ins sent with sentry-go's CaptureCheckIn and a monitor_config,
// against the real binary. A heartbeat monitor on a 1-minute interval that checks in once
// gets a failed run, sentry.status missed, for each slot that passes without a check-in
// (the first one minute after the check-in's minute, recorded once the 1-minute margin
// has passed), also across a restart, never twice. An in-progress check-in with
// max_runtime 1 and no final one becomes, the same run, failed with sentry.status timeout.
func TestSentryCrons(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	dataDir := t.TempDir()
	config := writeConfig(t, cronsConfig)
	s := startServer(t, dataDir, "--config", config)
	hub := newSentryHub(t, s.dsn(sentryKeyAPI, "1"))
	hub.CaptureCheckIn(&sentry.CheckIn{MonitorSlug: "crons-heartbeat", Status: sentry.CheckInStatusOK},
		&sentry.MonitorConfig{Schedule: sentry.IntervalSchedule(1, sentry.MonitorScheduleUnitMinute)})
	stuck := hub.CaptureCheckIn(&sentry.CheckIn{MonitorSlug: "crons-stuck", Status: sentry.CheckInStatusInProgress},
		&sentry.MonitorConfig{Schedule: sentry.IntervalSchedule(1, sentry.MonitorScheduleUnitHour), MaxRuntime: 1})
	require.NotNil(t, stuck)
	require.True(t, hub.Flush(10*time.Second))
	ok := checkInRun(t, s, "crons-heartbeat", "succeeded")
	require.Equal(t, "interval 1 minute", ok.Tags["sentry.schedule"])
	require.Equal(t, "1", ok.Tags["sentry.checkin_margin"])
	require.Equal(t, "30", ok.Tags["sentry.max_runtime"])
	checkInRun(t, s, "crons-stuck", "running")

	// The in-progress check-in times out one minute after it started: the same run.
	timedOut := runNamed(t, s, "crons-stuck", "failed", 3*time.Minute)
	require.Equal(t, "timeout", timedOut.Tags["sentry.status"])
	require.Equal(t, string(*stuck), timedOut.RunID)
	require.InDelta(t, 60, *timedOut.DurationSeconds, 0.001)

	// The heartbeat's next check-in was expected one minute after its minute.
	okStart, err := time.Parse(time.RFC3339Nano, ok.StartTime)
	require.NoError(t, err)
	expected := okStart.Truncate(time.Minute).Add(time.Minute)
	var first apiRun
	eventually(t, 4*time.Minute, func() error {
		ms := missedRuns(t, s, "crons-heartbeat")
		if len(ms) == 0 {
			return fmt.Errorf("no missed run yet")
		}
		first = ms[len(ms)-1]
		return nil
	})
	require.Equal(t, "failed", first.Status)
	require.Equal(t, "sentry", first.Tags["source"])
	require.Equal(t, "shop-api", first.Tags["sentry.project"])
	require.Equal(t, "interval 1 minute", first.Tags["sentry.schedule"])
	firstStart, err := time.Parse(time.RFC3339Nano, first.StartTime)
	require.NoError(t, err)
	require.True(t, expected.Equal(firstStart), "missed run starts at %s, want %s", first.StartTime, expected)
	var got struct {
		Data struct {
			Run struct {
				Error string `json:"error"`
			} `json:"run"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/loupe/v1/runs/"+first.RunID, 200, &got)
	require.Contains(t, got.Data.Run.Error, "missed: expected at "+expected.UTC().Format(time.RFC3339))
	// Missed runs are runs like any other for alert rules (internal/derived).
	eventually(t, 30*time.Second, func() error {
		if v := instant(t, s, `loupe_run_completed_total{job="crons-heartbeat",status="failed"}`); len(v) != 1 {
			return fmt.Errorf("loupe_run_completed_total of the missed runs: %v", v)
		}
		return nil
	})

	// After a restart the watcher goes on from the stored runs: the next slot is missed in
	// turn, and no slot has two runs.
	s.stop()
	s = startServer(t, dataDir, "--config", config)
	eventually(t, 4*time.Minute, func() error {
		if ms := missedRuns(t, s, "crons-heartbeat"); len(ms) < 2 {
			return fmt.Errorf("%d missed runs, want 2", len(ms))
		}
		return nil
	})
	ms := missedRuns(t, s, "crons-heartbeat")
	for i := range ms {
		start, err := time.Parse(time.RFC3339Nano, ms[len(ms)-1-i].StartTime)
		require.NoError(t, err)
		require.True(t, expected.Add(time.Duration(i)*time.Minute).Equal(start), "missed runs %+v", ms)
	}
}
