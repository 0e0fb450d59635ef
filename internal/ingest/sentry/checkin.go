package sentry

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/loupe-dev/loupe/internal/crons"
	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
)

// CheckIn is one Sentry Crons check-in
// (https://develop.sentry.dev/sdk/telemetry/check-ins/), as Loupe reads it.
type CheckIn struct {
	ID          string // check_in_id, 32 hex digits
	MonitorSlug string
	Status      string  // in_progress, ok, error (also accepted: timeout, missed)
	Duration    float64 // seconds; 0 when not sent
	Environment string
	Release     string
	TraceID     string
	Schedule    *Schedule // from monitor_config, when the SDK sends one
}

// Schedule is a monitor's expected cadence from monitor_config.
type Schedule struct {
	Type         string // "interval" or "crontab"
	Value        int    // interval count
	Unit         string // minute, hour, day, week, month, year
	Crontab      string
	Timezone     string // of a crontab; "" is UTC
	MarginMin    int    // checkin_margin, minutes
	MaxRuntimeMn int    // max_runtime, minutes
}

// DecodeCheckIn parses a check_in item. A check-in needs a check_in_id, a monitor_slug
// and a known status.
func DecodeCheckIn(payload []byte) (CheckIn, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return CheckIn{}, err
	}
	c := CheckIn{
		ID:          hexID(m["check_in_id"], 32),
		MonitorSlug: str(m["monitor_slug"], maxShortBytes),
		Status:      str(m["status"], 32),
		Environment: str(m["environment"], maxShortBytes),
		Release:     str(m["release"], maxShortBytes),
		TraceID:     hexID(obj(obj(m["contexts"])["trace"])["trace_id"], 32),
	}
	if c.ID == "" {
		return CheckIn{}, fmt.Errorf("check_in_id %s is not 32 hex digits (a UUID)", clip(str(m["check_in_id"], 64)))
	}
	if c.MonitorSlug == "" {
		return CheckIn{}, fmt.Errorf("check-in %s has no monitor_slug", c.ID)
	}
	switch c.Status {
	case "in_progress", "ok", "error", "timeout", "missed":
	default:
		return CheckIn{}, fmt.Errorf("check-in %s: status %s is not in_progress, ok or error", c.ID, clip(c.Status))
	}
	if d, ok := num(m["duration"]); ok && d > 0 && d < 1e9 {
		c.Duration = d
	}
	if mc := obj(m["monitor_config"]); mc != nil {
		if sc := obj(mc["schedule"]); sc != nil {
			s := &Schedule{Type: str(sc["type"], 32), Unit: str(sc["unit"], 32), Timezone: str(mc["timezone"], 64),
				MarginMin: integer(mc["checkin_margin"]), MaxRuntimeMn: integer(mc["max_runtime"])}
			switch s.Type {
			case "interval":
				s.Value = integer(sc["value"])
			case "crontab":
				s.Crontab = str(sc["value"], 128)
			}
			c.Schedule = s
		}
	}
	return c, nil
}

// runStatus maps a check-in status to a run status: in_progress is running, ok succeeded,
// and error, timeout and missed failed (the check-in's own status is kept in the run's
// tags as sentry.status).
func runStatus(s string) string {
	switch s {
	case "in_progress":
		return runs.StatusRunning
	case "ok":
		return runs.StatusSucceeded
	}
	return runs.StatusFailed
}

// toRun makes the run record of a check-in, next to the ones `loupe run` writes: the
// monitor slug is the job name, the check-in id the run id. A check-in carries no time of
// its own, so a running check-in starts when it was received and a final one ends then,
// having started its duration earlier (the start then matches the in-progress check-in's
// within the network delay).
func (c CheckIn) toRun(project Project, received time.Time) (runs.Run, error) {
	rec := jobs.Record{
		RecordVersion: 1,
		RunID:         c.ID,
		Name:          c.MonitorSlug,
		Status:        runStatus(c.Status),
		StartTime:     received.UTC(),
		Tags: map[string]string{
			"source":         "sentry",
			"sentry.project": project.Name,
			"sentry.status":  c.Status,
		},
		Telemetry: jobs.Telemetry{TraceID: c.TraceID},
	}
	if c.Environment != "" {
		rec.Tags["environment"] = c.Environment
	}
	if c.Release != "" {
		rec.Tags["release"] = c.Release
	}
	// The monitor's schedule goes in the tags, where the monitor watcher (internal/crons)
	// takes it from, also after a restart. A schedule it cannot use is said in a tag rather
	// than refused: the check-in itself is good.
	if s := c.Schedule; s != nil {
		cfg, err := crons.NewConfig(s.Type, s.Value, s.Unit, s.Crontab, s.Timezone, s.MarginMin, s.MaxRuntimeMn)
		if err != nil {
			rec.Tags[crons.TagScheduleError] = clipUTF8(err.Error(), 256)
		} else {
			cfg.SetTags(rec.Tags)
		}
	}
	if runs.Final(rec.Status) {
		d := time.Duration(c.Duration * float64(time.Second))
		rec.StartTime = received.Add(-d).UTC()
		rec.EndTime = received.UTC()
		rec.DurationSeconds = math.Round(c.Duration*1000) / 1000
		if rec.Status == runs.StatusFailed {
			rec.ExitCode = 1
			rec.Error = "Sentry check-in status " + c.Status
		}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return runs.Run{}, fmt.Errorf("encode run record: %w", err)
	}
	return runs.ParseRecord(raw)
}
