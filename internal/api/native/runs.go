package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
)

// defaultRunsRange is how far back the run routes look when start is not given: batch jobs
// are looked at over days, not over the hour the log and trace searches default to.
const defaultRunsRange = 7 * 24 * time.Hour

var errNoRuns = errors.New("this server has no run store")

// WithRuns makes the run routes (runs, runs/names, runs/compare, runs/{run_id}) answer from
// r; without it they answer 503. Call it before serving. It returns a for chaining.
func (a *API) WithRuns(r runs.Reader) *API {
	a.runs = r
	return a
}

// registerRuns adds the run routes; called by New. The reader is looked up per request so
// that WithRuns can come after New.
func (a *API) registerRuns() {
	a.handle("runs", a.needRuns(a.listRuns))
	a.handle("runs/names", a.needRuns(a.runNames))
	a.handle("runs/compare", a.needRuns(a.compareRuns))
	a.handle("runs/{run_id}", a.needRuns(a.getRun))
}

func (a *API) needRuns(f apiFunc) apiFunc {
	return func(r *http.Request) result {
		if a.runs == nil {
			return result{err: &apiError{typ: errUnavailable, err: errNoRuns}}
		}
		return f(r)
	}
}

// runSummaryJSON is a RunSummary of the runs API (docs/api-native.md).
type runSummaryJSON struct {
	RunID           string            `json:"run_id"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	StartTime       string            `json:"start_time"`
	EndTime         string            `json:"end_time,omitempty"`
	DurationSeconds *float64          `json:"duration_seconds,omitempty"`
	Host            string            `json:"host"`
	User            string            `json:"user"`
	CommandLine     string            `json:"command_line"`
	ExitCode        int               `json:"exit_code"`
	Signal          string            `json:"signal"`
	Tags            map[string]string `json:"tags"`
	PeakRSSBytes    uint64            `json:"peak_rss_bytes"`
	MaxRSSBytes     uint64            `json:"max_rss_bytes"`
	UserCPUSeconds  float64           `json:"user_cpu_seconds"`
	SysCPUSeconds   float64           `json:"system_cpu_seconds"`
	TraceID         string            `json:"trace_id"`
	// LostAfter is when a running run becomes lost if no heartbeat comes (runs.Live);
	// on running and lost runs of a `loupe run` that heartbeats.
	LostAfter string `json:"lost_after,omitempty"`
}

func runSummary(s runs.Summary) runSummaryJSON {
	out := runSummaryJSON{
		RunID: s.RunID, Name: s.Name, Status: s.Status, StartTime: formatTime(s.Start),
		Host: s.Host, User: s.User, CommandLine: s.CommandLine, ExitCode: s.ExitCode, Signal: s.Signal,
		Tags: s.Tags, PeakRSSBytes: s.PeakRSSBytes, MaxRSSBytes: s.MaxRSSBytes,
		UserCPUSeconds: s.UserCPUSeconds, SysCPUSeconds: s.SysCPUSeconds, TraceID: s.TraceID,
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if !s.LostAfter.IsZero() && (s.Status == runs.StatusRunning || s.Status == runs.StatusLost) {
		out.LostAfter = formatTime(s.LostAfter)
	}
	if runs.Final(s.Status) && s.Status != runs.StatusLost {
		if !s.End.IsZero() {
			out.EndTime = formatTime(s.End)
		}
		d := s.DurationSeconds
		out.DurationSeconds = &d
	}
	return out
}

type runsData struct {
	Runs       []runSummaryJSON `json:"runs"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// runsTimeRange reads start and end like the other routes, with a default range of seven
// days instead of one hour.
func (p params) runsTimeRange(now time.Time) (start, end time.Time, _ *apiError) {
	start, end, aerr := p.timeRange(now)
	if aerr != nil {
		return start, end, aerr
	}
	if !p.has("start") {
		start = end.Add(-defaultRunsRange)
	}
	return start, end, nil
}

// listRuns serves GET runs: run summaries matching every filter, newest start first.
func (a *API) listRuns(r *http.Request) result {
	p, aerr := requestParams(r, "name", "status", "host", "tag", "start", "end", "limit", "cursor")
	if aerr != nil {
		return result{err: aerr}
	}
	q := runs.Query{Now: a.now()}
	if q.Start, q.End, aerr = p.runsTimeRange(q.Now); aerr != nil {
		return result{err: aerr}
	}
	if q.Name, aerr = p.one("name"); aerr != nil {
		return result{err: aerr}
	}
	if q.Host, aerr = p.one("host"); aerr != nil {
		return result{err: aerr}
	}
	if q.Status, aerr = p.one("status"); aerr != nil {
		return result{err: aerr}
	}
	switch q.Status {
	case "", runs.StatusRunning, runs.StatusLost, runs.StatusSucceeded, runs.StatusFailed, runs.StatusKilled:
	default:
		return result{err: badParam("status", fmt.Errorf("%q is not running, lost, succeeded, failed or killed", q.Status))}
	}
	for _, t := range p.many("tag") {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return result{err: badParam("tag", fmt.Errorf("%q is not key=value", t))}
		}
		if old, dup := q.Tags[k]; dup && old != v {
			return result{err: badParam("tag", fmt.Errorf("key %q given twice with different values (%q, %q): no run can match", k, old, v))}
		}
		if q.Tags == nil {
			q.Tags = map[string]string{}
		}
		q.Tags[k] = v
	}
	if q.Limit, aerr = p.limit(runs.DefaultLimit, runs.MaxLimit); aerr != nil {
		return result{err: aerr}
	}
	if q.Cursor, aerr = p.cursor(); aerr != nil {
		return result{err: aerr}
	}
	page, err := a.runs.ListRuns(r.Context(), q)
	if err != nil {
		return result{err: fmt.Errorf("list runs: %w", err)}
	}
	data := runsData{Runs: make([]runSummaryJSON, 0, len(page.Runs))}
	for _, s := range page.Runs {
		if len(data.Runs) == q.Limit {
			break // a store that ignores the limit must not make the answer unbounded
		}
		s.Live(q.Now) // the time the store's running/lost filter used
		data.Runs = append(data.Runs, runSummary(s))
	}
	if page.NextCursor != "" {
		data.NextCursor = encodeCursor(page.NextCursor)
	}
	return result{data: data}
}

type runNameJSON struct {
	Name      string `json:"name"`
	Runs      int64  `json:"runs"`
	LastStart string `json:"last_start"`
}

// runNames serves GET runs/names: job names with their run counts, sorted by name.
func (a *API) runNames(r *http.Request) result {
	p, aerr := requestParams(r, "start", "end")
	if aerr != nil {
		return result{err: aerr}
	}
	start, end, aerr := p.runsTimeRange(a.now())
	if aerr != nil {
		return result{err: aerr}
	}
	names, err := a.runs.RunNames(r.Context(), start, end)
	if err != nil {
		return result{err: fmt.Errorf("run names: %w", err)}
	}
	out := make([]runNameJSON, 0, len(names))
	for _, n := range names {
		out = append(out, runNameJSON{Name: n.Name, Runs: n.Runs, LastStart: formatTime(n.LastStart)})
	}
	return result{data: map[string]any{"names": out}}
}

// getRun serves GET runs/{run_id}: the whole record as ingested.
func (a *API) getRun(r *http.Request) result {
	if _, aerr := requestParams(r); aerr != nil {
		return result{err: aerr}
	}
	id, err := runs.NormalizeRunID(r.PathValue("run_id"))
	if err != nil {
		return result{err: badData(fmt.Errorf("run id in path: %w", err))}
	}
	rec, err := a.getRecord(r, id)
	if err != nil {
		return result{err: err}
	}
	// A running record whose heartbeats stopped is served with status "lost", as lists
	// show it. Stores keep only records that parsed; one that no longer does (a record of
	// a future version) is served as stored rather than hidden.
	if live, err := runs.LiveRecord(rec, a.now()); err == nil {
		rec = live
	}
	return result{data: map[string]json.RawMessage{"run": rec}}
}

// getRecord fetches one record as stored, turning a missing run into a 404 that names it.
func (a *API) getRecord(r *http.Request, id string) ([]byte, error) {
	rec, err := a.runs.GetRun(r.Context(), id)
	if errors.Is(err, runs.ErrNotFound) {
		return nil, &apiError{typ: errNotFound, err: fmt.Errorf("run %s not found", id)}
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return rec, nil
}

// compareData is the answer of runs/compare: both summaries and jobs.Compare's diff.
type compareData struct {
	A runSummaryJSON `json:"a"`
	B runSummaryJSON `json:"b"`
	jobs.Comparison
}

// compareRuns serves GET runs/compare?a=RUN_ID&b=RUN_ID.
func (a *API) compareRuns(r *http.Request) result {
	p, aerr := requestParams(r, "a", "b")
	if aerr != nil {
		return result{err: aerr}
	}
	var recs [2]*jobs.Record
	var sums [2]runSummaryJSON
	for i, name := range []string{"a", "b"} {
		raw, aerr := p.one(name)
		if aerr != nil {
			return result{err: aerr}
		}
		if raw == "" {
			return result{err: badParam(name, errors.New("missing: give the two runs to compare as a=RUN_ID and b=RUN_ID"))}
		}
		id, err := runs.NormalizeRunID(raw)
		if err != nil {
			return result{err: badParam(name, err)}
		}
		rec, err := a.getRecord(r, id)
		if err != nil {
			return result{err: err}
		}
		run, err := runs.ParseRecord(rec)
		if err != nil {
			return result{err: fmt.Errorf("stored record of run %s: %w", id, err)}
		}
		var full jobs.Record
		if err := json.Unmarshal(rec, &full); err != nil {
			return result{err: fmt.Errorf("stored record of run %s: %w", id, err)}
		}
		run.Summary.Live(a.now())
		full.Status = run.Summary.Status
		recs[i], sums[i] = &full, runSummary(run.Summary)
	}
	return result{data: compareData{A: sums[0], B: sums[1], Comparison: jobs.Compare(recs[0], recs[1])}}
}
