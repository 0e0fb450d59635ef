package sentry

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/Vienna below, whatever the machine has

	"github.com/stretchr/testify/require"
)

// TestCheckInScheduleTags: a check-in's monitor_config goes into its run's tags, with
// Sentry's defaults filled in, where the Crons watcher (internal/crons) reads it; one it
// cannot use is named in sentry.schedule_error and the check-in is kept.
func TestCheckInScheduleTags(t *testing.T) {
	received := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		config string
		want   map[string]string
	}{
		{`{"schedule":{"type":"interval","value":1,"unit":"minute"}}`,
			map[string]string{"sentry.schedule": "interval 1 minute", "sentry.checkin_margin": "1", "sentry.max_runtime": "30"}},
		{`{"schedule":{"type":"crontab","value":"0 9 * * 1-5"},"checkin_margin":5,"max_runtime":120,"timezone":"Europe/Vienna"}`,
			map[string]string{"sentry.schedule": "crontab 0 9 * * 1-5", "sentry.checkin_margin": "5", "sentry.max_runtime": "120",
				"sentry.timezone": "Europe/Vienna"}},
		{`{"schedule":{"type":"interval","value":1,"unit":"fortnight"}}`,
			map[string]string{"sentry.schedule_error": `interval schedule: unit "fortnight" is not minute, hour, day, week, month or year`}},
		{`{"schedule":{"type":"crontab","value":"99 * * * *"}}`,
			map[string]string{"sentry.schedule_error": `crontab "99 * * * *": end of range (99) above maximum (59): 99`}},
	} {
		c, err := DecodeCheckIn([]byte(`{"check_in_id":"83a7c03ed0b14e1b8d462c1b3c0e6bf0","monitor_slug":"nightly","status":"ok","monitor_config":` + tc.config + `}`))
		require.NoError(t, err)
		r, err := c.toRun(Project{ID: "1", Name: "api"}, received)
		require.NoError(t, err)
		want := map[string]string{"source": "sentry", "sentry.project": "api", "sentry.status": "ok"}
		for k, v := range tc.want {
			want[k] = v
		}
		require.Equal(t, want, r.Tags, tc.config)
	}
}
