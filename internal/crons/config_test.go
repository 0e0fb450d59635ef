package crons

import (
	"testing"
	"time"
	_ "time/tzdata" // the crontab time zones below, whatever the machine has

	"github.com/stretchr/testify/require"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextInterval(t *testing.T) {
	// A check-in's seconds are dropped, as Sentry does: the next is expected an interval
	// after its minute.
	ref := at("2026-01-31T10:15:42Z")
	for _, tc := range []struct {
		value int
		unit  string
		want  string
	}{
		{1, "minute", "2026-01-31T10:16:00Z"},
		{15, "minute", "2026-01-31T10:30:00Z"},
		{2, "hour", "2026-01-31T12:15:00Z"},
		{1, "day", "2026-02-01T10:15:00Z"},
		{2, "week", "2026-02-14T10:15:00Z"},
		{1, "month", "2026-03-03T10:15:00Z"}, // Go's AddDate: January 31st + 1 month
		{1, "year", "2027-01-31T10:15:00Z"},
		{3, "hours", "2026-01-31T13:15:00Z"}, // plural taken
	} {
		c, err := NewConfig("interval", tc.value, tc.unit, "", "", 0, 0)
		require.NoError(t, err, tc.unit)
		require.Equal(t, at(tc.want), c.Next(ref), "%d %s", tc.value, tc.unit)
	}
}

func TestNextCrontab(t *testing.T) {
	for _, tc := range []struct {
		spec, tz, ref, want string
	}{
		{"0 * * * *", "", "2026-12-06T10:00:05Z", "2026-12-06T11:00:00Z"},
		{"0 * * * *", "", "2026-12-06T10:59:59Z", "2026-12-06T11:00:00Z"},
		{"*/5 * * * *", "", "2026-12-06T10:07:00Z", "2026-12-06T10:10:00Z"},
		{"30 2 * * 1", "", "2026-12-06T10:00:00Z", "2026-12-07T02:30:00Z"}, // Monday
		{"@daily", "", "2026-12-06T10:00:00Z", "2026-12-07T00:00:00Z"},
		// 09:00 in New York is 14:00 UTC in winter, 13:00 in summer.
		{"0 9 * * *", "America/New_York", "2026-12-06T10:00:00Z", "2026-12-06T14:00:00Z"},
		{"0 9 * * *", "America/New_York", "2026-07-06T14:00:00Z", "2026-07-07T13:00:00Z"},
	} {
		c, err := NewConfig("crontab", 0, "", tc.spec, tc.tz, 0, 0)
		require.NoError(t, err, tc.spec)
		require.Equal(t, at(tc.want), c.Next(at(tc.ref)), "%s in %q after %s", tc.spec, tc.tz, tc.ref)
	}
}

func TestConfigDefaultsAndTags(t *testing.T) {
	c, err := NewConfig("crontab", 0, "", " 0  *  * * * ", "", 0, 0)
	require.NoError(t, err)
	require.Equal(t, "crontab 0 * * * *", c.Schedule)
	require.Equal(t, DefaultMargin, c.Margin)
	require.Equal(t, DefaultMaxRuntime, c.MaxRuntime)

	c, err = NewConfig("interval", 1, "hour", "", "", 5, 90)
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.Margin)
	require.Equal(t, 90*time.Minute, c.MaxRuntime)
	tags := map[string]string{}
	c.SetTags(tags)
	require.Equal(t, map[string]string{TagSchedule: "interval 1 hour", TagMargin: "5", TagMaxRuntime: "90"}, tags)
	back, err := ConfigFromTags(tags)
	require.NoError(t, err)
	require.Equal(t, c.Schedule, back.Schedule)
	require.Equal(t, c.Margin, back.Margin)
	require.Equal(t, c.MaxRuntime, back.MaxRuntime)
	require.Equal(t, c.Next(at("2026-12-06T10:00:00Z")), back.Next(at("2026-12-06T10:00:00Z")))

	c, err = NewConfig("crontab", 0, "", "0 9 * * *", "Europe/Vienna", 0, 0)
	require.NoError(t, err)
	tags = map[string]string{}
	c.SetTags(tags)
	require.Equal(t, "Europe/Vienna", tags[TagTimezone])
	back, err = ConfigFromTags(tags)
	require.NoError(t, err)
	require.Equal(t, at("2026-12-07T08:00:00Z"), back.Next(at("2026-12-06T10:00:00Z")))

	// Sentry's largest margin and runtime are 28 days; more is cut to that.
	c, err = NewConfig("interval", 1, "day", "", "", 1<<30, 1<<30)
	require.NoError(t, err)
	require.Equal(t, 28*24*time.Hour, c.Margin)
	require.Equal(t, 28*24*time.Hour, c.MaxRuntime)

	_, err = ConfigFromTags(map[string]string{"source": "sentry"})
	require.ErrorIs(t, err, errNoConfig)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		kind        string
		value       int
		unit, spec  string
		tz, wantErr string
	}{
		{"interval", 0, "hour", "", "", "not a positive number"},
		{"interval", 1, "fortnight", "", "", `unit "fortnight"`},
		{"weekly", 0, "", "", "", `schedule type "weekly"`},
		{"crontab", 0, "", "61 * * * *", "", "crontab"},
		{"crontab", 0, "", "", "", "crontab"},
		{"crontab", 0, "", "@every 5m", "", "not a 5-field crontab"},
		{"crontab", 0, "", "TZ=UTC 0 * * * *", "", "not a 5-field crontab"},
		{"crontab", 0, "", "0 * * * *", "Mars/Olympus", `timezone "Mars/Olympus"`},
	} {
		_, err := NewConfig(tc.kind, tc.value, tc.unit, tc.spec, tc.tz, 0, 0)
		require.ErrorContains(t, err, tc.wantErr, "%+v", tc)
	}
	_, err := ConfigFromTags(map[string]string{TagSchedule: "hourly"})
	require.Error(t, err)
	_, err = ConfigFromTags(map[string]string{TagSchedule: "interval x minute"})
	require.Error(t, err)
}
