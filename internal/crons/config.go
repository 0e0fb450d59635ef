// Package crons watches the schedules of Sentry Crons monitors: it records a failed run
// when a monitor misses a check-in (no check-in by the expected time plus its margin), and
// finalises an in-progress check-in that got no final one within the monitor's max runtime
// as timed out. It sits in front of the runs writer the Sentry ingest writes check-ins to,
// so it sees every check-in as it is stored, and rebuilds what it knows from the runs store
// at start: a monitor's schedule travels in the tags of its runs.
package crons

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Sentry's defaults when monitor_config leaves them out
// (https://docs.sentry.io/product/crons/getting-started/http/).
const (
	DefaultMargin     = time.Minute
	DefaultMaxRuntime = 30 * time.Minute
	// maxMinutes is Sentry's largest checkin_margin and max_runtime (28 days); larger
	// values are cut to it.
	maxMinutes = 40320
)

// Run tags that carry a monitor's configuration, so that it can be read back from the
// runs store after a restart, and shown on the Runs page.
const (
	TagSchedule   = "sentry.schedule"       // "interval 1 hour" or "crontab 0 * * * *"
	TagTimezone   = "sentry.timezone"       // IANA zone of a crontab; absent: UTC
	TagMargin     = "sentry.checkin_margin" // minutes
	TagMaxRuntime = "sentry.max_runtime"    // minutes
	// TagScheduleError says why a check-in's monitor_config was not taken (the monitor is
	// then not watched until a check-in brings a valid one).
	TagScheduleError = "sentry.schedule_error"
)

// Config is one monitor's schedule, as its check-ins' monitor_config gave it.
type Config struct {
	Schedule   string // "interval N unit" or "crontab SPEC"
	Timezone   string // "" is UTC
	Margin     time.Duration
	MaxRuntime time.Duration
	next       func(time.Time) time.Time
}

// intervalUnits are the units of Sentry's interval schedules.
var intervalUnits = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}

// NewConfig checks and parses a monitor_config: kind "interval" with value and unit, or
// "crontab" with crontab (5 fields, or @hourly and the like), in timezone. Margin and max
// runtime are minutes; 0 or less takes Sentry's default.
func NewConfig(kind string, value int, unit, crontab, timezone string, marginMin, maxRuntimeMin int) (Config, error) {
	var sched string
	switch kind {
	case "interval":
		unit = strings.TrimSuffix(unit, "s") // "hours" as "hour"
		if value < 1 {
			return Config{}, fmt.Errorf("interval schedule: value %d is not a positive number", value)
		}
		if !intervalUnits[unit] {
			return Config{}, fmt.Errorf("interval schedule: unit %q is not minute, hour, day, week, month or year", unit)
		}
		sched = fmt.Sprintf("interval %d %s", value, unit)
	case "crontab":
		sched = "crontab " + strings.Join(strings.Fields(crontab), " ")
	default:
		return Config{}, fmt.Errorf("schedule type %q is not interval or crontab", kind)
	}
	c := Config{Schedule: sched, Timezone: timezone, Margin: DefaultMargin, MaxRuntime: DefaultMaxRuntime}
	if marginMin > 0 {
		c.Margin = minutes(marginMin)
	}
	if maxRuntimeMin > 0 {
		c.MaxRuntime = minutes(maxRuntimeMin)
	}
	return c, c.parse()
}

// parse sets c.next from c.Schedule and c.Timezone.
func (c *Config) parse() error {
	kind, rest, _ := strings.Cut(c.Schedule, " ")
	switch kind {
	case "interval":
		f := strings.Fields(rest)
		if len(f) != 2 {
			return fmt.Errorf("interval schedule %q is not \"N unit\"", rest)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 || n > 1_000_000 {
			return fmt.Errorf("interval schedule %q: %q is not a positive number", rest, f[0])
		}
		unit := f[1]
		if !intervalUnits[unit] {
			return fmt.Errorf("interval schedule: unit %q is not minute, hour, day, week, month or year", unit)
		}
		c.next = func(t time.Time) time.Time { return addInterval(t.Truncate(time.Minute), n, unit) }
		return nil
	case "crontab":
		// robfig/cron also reads a TZ= prefix and @every; Sentry has neither (the zone is
		// monitor_config's timezone).
		if strings.Contains(rest, "TZ=") || strings.HasPrefix(rest, "@every") {
			return fmt.Errorf("crontab %q: not a 5-field crontab", rest)
		}
		spec, err := cron.ParseStandard(rest)
		if err != nil {
			return fmt.Errorf("crontab %q: %w", rest, err)
		}
		loc := time.UTC
		if c.Timezone != "" {
			if loc, err = time.LoadLocation(c.Timezone); err != nil {
				return fmt.Errorf("timezone %q: %w", c.Timezone, err)
			}
		}
		c.next = func(t time.Time) time.Time {
			n := spec.Next(t.Truncate(time.Minute).In(loc))
			return n.UTC() // zero when the spec matches no time (Feb 30th)
		}
		return nil
	}
	return fmt.Errorf("schedule %q is not \"interval N unit\" or \"crontab SPEC\"", c.Schedule)
}

func minutes(m int) time.Duration { return time.Duration(min(m, maxMinutes)) * time.Minute }

func addInterval(t time.Time, n int, unit string) time.Time {
	switch unit {
	case "minute":
		return t.Add(time.Duration(n) * time.Minute)
	case "hour":
		return t.Add(time.Duration(n) * time.Hour)
	case "day":
		return t.AddDate(0, 0, n)
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	}
	return t.AddDate(n, 0, 0) // year
}

// Next is the first expected check-in after a check-in (or a missed slot) at t: an
// interval after t's minute, or the crontab's next time after t's minute. Zero when the
// crontab never matches.
func (c Config) Next(t time.Time) time.Time {
	if c.next == nil {
		return time.Time{}
	}
	return c.next(t)
}

// SetTags writes c into a run's tags.
func (c Config) SetTags(tags map[string]string) {
	tags[TagSchedule] = c.Schedule
	if c.Timezone != "" {
		tags[TagTimezone] = c.Timezone
	}
	tags[TagMargin] = strconv.Itoa(int(c.Margin / time.Minute))
	tags[TagMaxRuntime] = strconv.Itoa(int(c.MaxRuntime / time.Minute))
}

// errNoConfig is ConfigFromTags' answer for a run without a schedule tag.
var errNoConfig = errors.New("no schedule")

// ConfigFromTags reads back what SetTags wrote.
func ConfigFromTags(tags map[string]string) (Config, error) {
	s, ok := tags[TagSchedule]
	if !ok {
		return Config{}, errNoConfig
	}
	c := Config{Schedule: s, Timezone: tags[TagTimezone], Margin: DefaultMargin, MaxRuntime: DefaultMaxRuntime}
	if m, err := strconv.Atoi(tags[TagMargin]); err == nil && m > 0 {
		c.Margin = minutes(m)
	}
	if m, err := strconv.Atoi(tags[TagMaxRuntime]); err == nil && m > 0 {
		c.MaxRuntime = minutes(m)
	}
	return c, c.parse()
}
