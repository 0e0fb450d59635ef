package runs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/jobs"
)

// Times are stored as int64 nanoseconds since the Unix epoch; outside this range
// time.Time.UnixNano is undefined.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// ParseRecord parses the JSON of one run record (the value of the loupe.run.record
// attribute, or one line of a `loupe run --output` file). It refuses, with an error naming
// the field, anything that is not a record a store can file: invalid UTF-8, no record_version, a run_id
// that is not 32 hex digits (it is lower-cased), an unknown status, a missing start time, or
// times and durations out of range. The returned Run keeps raw as its Record.
func ParseRecord(raw []byte) (Run, error) {
	if !utf8.Valid(raw) {
		// encoding/json would accept it, but the record is stored and served as text.
		return Run{}, errors.New("run record is not valid UTF-8")
	}
	var rec jobs.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Run{}, fmt.Errorf("run record is not a JSON record: %w", err)
	}
	if rec.RecordVersion < 1 {
		return Run{}, errors.New("run record has no record_version")
	}
	id, err := NormalizeRunID(rec.RunID)
	if err != nil {
		return Run{}, fmt.Errorf("run record: %w", err)
	}
	switch rec.Status {
	case StatusRunning, StatusSucceeded, StatusFailed, StatusKilled:
	default:
		return Run{}, fmt.Errorf("run record %s: status %q is not running, succeeded, failed or killed", id, rec.Status)
	}
	if rec.StartTime.IsZero() {
		return Run{}, fmt.Errorf("run record %s: no start_time", id)
	}
	var hb time.Time
	if rec.HeartbeatTime != nil {
		hb = *rec.HeartbeatTime
	}
	for _, t := range []struct {
		name string
		v    time.Time
	}{{"start_time", rec.StartTime}, {"end_time", rec.EndTime}, {"heartbeat_time", hb}} {
		if !t.v.IsZero() && (t.v.Before(minTime) || t.v.After(maxTime)) {
			return Run{}, fmt.Errorf("run record %s: %s %s is out of range", id, t.name, t.v.Format(time.RFC3339))
		}
	}
	if rec.DurationSeconds < 0 {
		return Run{}, fmt.Errorf("run record %s: negative duration_seconds %g", id, rec.DurationSeconds)
	}
	s := Summary{
		RunID:          id,
		Name:           rec.Name,
		Status:         rec.Status,
		Start:          rec.StartTime.UTC(),
		Host:           rec.Host.Hostname,
		User:           rec.User,
		CommandLine:    rec.CommandLine,
		ExitCode:       rec.ExitCode,
		Signal:         rec.Signal,
		Tags:           rec.Tags,
		PeakRSSBytes:   rec.Resources.PeakRSSBytes,
		MaxRSSBytes:    rec.Resources.MaxRSSBytes,
		UserCPUSeconds: rec.Resources.UserCPUSeconds,
		SysCPUSeconds:  rec.Resources.SystemCPUSeconds,
		TraceID:        strings.ToLower(rec.Telemetry.TraceID),
	}
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	if rec.HeartbeatSeconds < 0 || math.IsNaN(rec.HeartbeatSeconds) || math.IsInf(rec.HeartbeatSeconds, 0) {
		return Run{}, fmt.Errorf("run record %s: heartbeat_seconds %g is not a positive number", id, rec.HeartbeatSeconds)
	}
	if !Final(rec.Status) {
		s.LostAfter = lostAfter(rec.HeartbeatSeconds, hb, s.Start)
	}
	if Final(rec.Status) {
		s.DurationSeconds = rec.DurationSeconds
		if !rec.EndTime.IsZero() {
			s.End = rec.EndTime.UTC()
		}
	}
	return Run{Summary: s, Record: raw}, nil
}

// NormalizeRunID checks that id is 32 hex digits and returns it in lower case.
func NormalizeRunID(id string) (string, error) {
	if len(id) != 32 {
		return "", fmt.Errorf("run_id %q is not 32 hex digits", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", fmt.Errorf("run_id %q is not 32 hex digits", id)
		}
	}
	return strings.ToLower(id), nil
}

// Extracted is what a batch of logs or spans held: the run records that parsed, and an
// error for each one that did not.
type Extracted struct {
	Runs     []Run
	Rejected []error
}

// FromLogs returns the run records carried by log records of ld (the start-of-run records of
// `loupe run`). Only scopes named jobs.ScopeName are looked at, so a batch without runs
// costs one string comparison per scope. ld is not modified.
func FromLogs(ld plog.Logs) Extracted {
	var out Extracted
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			if sl.Scope().Name() != jobs.ScopeName {
				continue
			}
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out.add(lrs.At(k).Attributes())
			}
		}
	}
	return out
}

// FromTraces returns the run records carried by spans of td (the run spans), like FromLogs.
func FromTraces(td ptrace.Traces) Extracted {
	var out Extracted
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			if ss.Scope().Name() != jobs.ScopeName {
				continue
			}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				out.add(spans.At(k).Attributes())
			}
		}
	}
	return out
}

func (e *Extracted) add(attrs pcommon.Map) {
	v, ok := attrs.Get(jobs.RecordAttribute)
	if !ok {
		return
	}
	if v.Type() != pcommon.ValueTypeStr {
		e.Rejected = append(e.Rejected, fmt.Errorf("%s is a %s, want a JSON string", jobs.RecordAttribute, v.Type()))
		return
	}
	run, err := ParseRecord([]byte(v.Str()))
	if err != nil {
		e.Rejected = append(e.Rejected, err)
		return
	}
	e.Runs = append(e.Runs, run)
}
