package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The error tracking routes (docs/errors.md, "API"): issues, one issue with its tags and
// hourly series, its events, one event, and status changes.

// defaultIssuesRange is how far back the issue list looks when start is not given, and
// sparklineBuckets how many buckets each issue's sparkline has over the range.
const (
	defaultIssuesRange = 24 * time.Hour
	sparklineBuckets   = 24
	// maxSeriesBuckets bounds an issue's series (the detail page's hourly series over 14
	// days is 336).
	maxSeriesBuckets = 2000
	// maxStatusBody bounds a status change request body.
	maxStatusBody = 64 << 10
)

var errNoIssues = errors.New("this server has no error store")

// WithIssues makes the error tracking routes answer from s; without it they answer 503.
// Call it before serving. It returns a for chaining.
func (a *API) WithIssues(s errtrack.Store) *API {
	a.issues = s
	return a
}

// registerIssues adds the error tracking routes; called by New.
func (a *API) registerIssues() {
	a.handle("issues", a.needIssues(a.listIssues))
	a.handle("issues/{id}", a.needIssues(a.getIssue))
	a.handle("issues/{id}/events", a.needIssues(a.issueEvents))
	a.handle("events/{id}", a.needIssues(a.getEvent))
	a.handle("events", a.needIssues(a.traceEvents))
	// The method patterns are more specific than the ones above, so PUT and POST come
	// here and every other method to serve's GET check.
	for _, m := range []string{http.MethodPut, http.MethodPost} {
		a.mux.HandleFunc(m+" "+Prefix+"issues/{id}", a.serveWrite(a.needIssues(a.setStatus)))
		a.mux.HandleFunc(m+" "+Prefix+"issues/{id}/status", a.serveWrite(a.needIssues(a.setStatus)))
	}
}

func (a *API) needIssues(f apiFunc) apiFunc {
	return func(r *http.Request) result {
		if a.issues == nil {
			return result{err: &apiError{typ: errUnavailable, err: errNoIssues}}
		}
		return f(r)
	}
}

// issueJSON is an issue of the list, with its sparkline.
type issueJSON struct {
	errtrack.Issue
	Series []errtrack.Bucket `json:"series,omitempty"`
}

type issueListJSON struct {
	Issues []issueJSON `json:"issues"`
	Next   string      `json:"next,omitempty"`
	// Start and End are the range the sparklines cover: bucket i starts at Start + i*Step
	// (empty buckets are omitted, so a client needs Start to place the others).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Step is the width of the sparkline buckets, in seconds.
	Step float64 `json:"step"`
}

// listIssues: GET issues?start&end&service&project&environment&release&status&q&sort&limit&cursor
func (a *API) listIssues(r *http.Request) result {
	p, aerr := requestParams(r, "start", "end", "service", "project", "environment", "release", "status",
		"q", "sort", "limit", "cursor")
	if aerr != nil {
		return result{err: aerr}
	}
	start, end, aerr := a.issuesRange(p)
	if aerr != nil {
		return result{err: aerr}
	}
	limit, aerr := p.limit(errtrack.DefaultIssueLimit, errtrack.MaxIssueLimit)
	if aerr != nil {
		return result{err: aerr}
	}
	q := errtrack.IssueQuery{Start: start, End: end, Limit: limit}
	if !p.has("end") {
		q.End = time.Time{} // up to now, including an event stamped this very instant
	}
	for name, dst := range map[string]*string{"service": &q.Service, "project": &q.Project, "environment": &q.Environment,
		"release": &q.Release, "status": &q.Status, "q": &q.Text, "sort": &q.Sort, "cursor": &q.Cursor} {
		if *dst, aerr = p.one(name); aerr != nil {
			return result{err: aerr}
		}
	}
	page, err := a.issues.ListIssues(r.Context(), q)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	step := sparklineStep(start, end)
	out := issueListJSON{Issues: make([]issueJSON, len(page.Issues)), Next: page.Next, Start: start, End: end, Step: step.Seconds()}
	ids := make([]string, len(page.Issues))
	for i, is := range page.Issues {
		out.Issues[i].Issue = is
		ids[i] = is.ID
	}
	series, err := a.seriesOf(r, ids, start, end, step)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	for i := range out.Issues {
		out.Issues[i].Series = series[out.Issues[i].ID]
	}
	return result{data: out}
}

// issuesRange reads start and end. Without start, the range is the 24 hours ending with
// the current hour (end is the next whole hour), so that the sparkline buckets are whole
// hours and the latest one holds the events of this very moment.
func (a *API) issuesRange(p params) (time.Time, time.Time, *apiError) {
	if !p.has("start") {
		end := a.now().Truncate(time.Hour).Add(time.Hour)
		if s, aerr := p.one("end"); aerr != nil {
			return time.Time{}, time.Time{}, aerr
		} else if s != "" {
			t, err := parseTime(s, a.now())
			if err != nil {
				return time.Time{}, time.Time{}, badParam("end", err)
			}
			end = t
		}
		return end.Add(-defaultIssuesRange), end, nil
	}
	return p.timeRange(a.issuesNow())
}

// issuesNow is the default end of the error routes' ranges: the end of the current second,
// so that an event stamped this very instant is in the range (ends are exclusive).
func (a *API) issuesNow() time.Time {
	return a.now().Truncate(time.Second).Add(time.Second)
}

// sparklineStep divides [start, end) into sparklineBuckets buckets of whole seconds.
func sparklineStep(start, end time.Time) time.Duration {
	step := end.Sub(start) / sparklineBuckets
	return max(step.Truncate(time.Second), time.Second)
}

// seriesOf returns the series of several issues, in one query when the store can.
func (a *API) seriesOf(r *http.Request, ids []string, start, end time.Time, step time.Duration) (map[string][]errtrack.Bucket, error) {
	if sr, ok := a.issues.(errtrack.SeriesReader); ok {
		return sr.IssuesSeries(r.Context(), ids, start, end, step)
	}
	out := map[string][]errtrack.Bucket{}
	for _, id := range ids {
		b, err := a.issues.IssueSeries(r.Context(), id, start, end, step)
		if err != nil {
			return nil, err
		}
		out[id] = b
	}
	return out, nil
}

type issueDetailJSON struct {
	Issue errtrack.Issue             `json:"issue"`
	Tags  []errtrack.TagDistribution `json:"tags"`
	// Series counts the issue's events per Step seconds over [Start, End).
	Series []errtrack.Bucket `json:"series"`
	Start  time.Time         `json:"start"`
	End    time.Time         `json:"end"`
	Step   float64           `json:"step"`
}

// getIssue: GET issues/{id}?start&end&step — the issue, its tag distributions and its
// series (hourly over the last 14 days by default).
func (a *API) getIssue(r *http.Request) result {
	p, aerr := requestParams(r, "start", "end", "step")
	if aerr != nil {
		return result{err: aerr}
	}
	id := r.PathValue("id")
	is, err := a.issues.GetIssue(r.Context(), id)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	step, aerr := p.duration("step")
	if aerr != nil {
		return result{err: aerr}
	}
	if step == 0 {
		step = time.Hour
	}
	end := a.now().Truncate(step).Add(step)
	start := end.Add(-14 * 24 * time.Hour)
	if p.has("start") || p.has("end") {
		if start, end, aerr = p.timeRange(a.issuesNow()); aerr != nil {
			return result{err: aerr}
		}
	}
	if end.Sub(start)/step > maxSeriesBuckets {
		return result{err: badParam("step", fmt.Errorf("%s makes more than %d buckets over the range", step, maxSeriesBuckets))}
	}
	tags, err := a.issues.IssueTags(r.Context(), id)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	series, err := a.issues.IssueSeries(r.Context(), id, start, end, step)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	if series == nil {
		series = []errtrack.Bucket{}
	}
	return result{data: issueDetailJSON{Issue: is, Tags: tags, Series: series, Start: start, End: end, Step: step.Seconds()}}
}

type eventPageJSON struct {
	Events []errtrack.Event `json:"events"`
	Next   string           `json:"next,omitempty"`
}

// issueEvents: GET issues/{id}/events?limit&cursor — newest first.
func (a *API) issueEvents(r *http.Request) result {
	p, aerr := requestParams(r, "limit", "cursor")
	if aerr != nil {
		return result{err: aerr}
	}
	limit, aerr := p.limit(errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	if aerr != nil {
		return result{err: aerr}
	}
	cursor, aerr := p.one("cursor")
	if aerr != nil {
		return result{err: aerr}
	}
	id := r.PathValue("id")
	if _, err := a.issues.GetIssue(r.Context(), id); err != nil {
		return result{err: issuesErr(err)}
	}
	page, err := a.issues.IssueEvents(r.Context(), id, errtrack.EventQuery{Limit: limit, Cursor: cursor})
	if err != nil {
		return result{err: issuesErr(err)}
	}
	for i := range page.Events {
		safeEvent(&page.Events[i])
	}
	return result{data: eventPageJSON{Events: page.Events, Next: page.Next}}
}

// getEvent: GET events/{id} — one event in full.
func (a *API) getEvent(r *http.Request) result {
	if _, aerr := requestParams(r); aerr != nil {
		return result{err: aerr}
	}
	ev, err := a.issues.GetEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		return result{err: issuesErr(err)}
	}
	safeEvent(&ev)
	return result{data: ev}
}

type traceEventsJSON struct {
	Events []errtrack.Event `json:"events"`
	// Issues are the issues of those events, by id.
	Issues map[string]errtrack.Issue `json:"issues"`
}

// traceEvents: GET events?trace_id&limit — the events of one trace, newest first, with
// their issues.
func (a *API) traceEvents(r *http.Request) result {
	p, aerr := requestParams(r, "trace_id", "limit")
	if aerr != nil {
		return result{err: aerr}
	}
	s, aerr := p.one("trace_id")
	if aerr != nil {
		return result{err: aerr}
	}
	if s == "" {
		return result{err: badParam("trace_id", errors.New("required: the events of which trace"))}
	}
	tid, err := parseTraceID(s)
	if err != nil {
		return result{err: badParam("trace_id", err)}
	}
	limit, aerr := p.limit(errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	if aerr != nil {
		return result{err: aerr}
	}
	evs, err := a.issues.TraceEvents(r.Context(), tid.String(), limit)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	out := traceEventsJSON{Events: evs, Issues: map[string]errtrack.Issue{}}
	if out.Events == nil {
		out.Events = []errtrack.Event{}
	}
	for i := range out.Events {
		safeEvent(&out.Events[i])
		id := out.Events[i].GroupID
		if _, seen := out.Issues[id]; seen || id == "" {
			continue
		}
		is, err := a.issues.GetIssue(r.Context(), id)
		if errors.Is(err, errtrack.ErrNotFound) {
			continue // deleted by retention between the two reads
		}
		if err != nil {
			return result{err: issuesErr(err)}
		}
		out.Issues[id] = is
	}
	return result{data: out}
}

// safeEvent makes an event's free-form maps encodable (no NaN or Inf).
func safeEvent(ev *errtrack.Event) {
	if ev.Extra != nil {
		ev.Extra = jsonSafeMap(ev.Extra)
	}
	if ev.Contexts != nil {
		ev.Contexts = jsonSafeMap(ev.Contexts)
	}
	for i := range ev.Breadcrumbs {
		if ev.Breadcrumbs[i].Data != nil {
			ev.Breadcrumbs[i].Data = jsonSafeMap(ev.Breadcrumbs[i].Data)
		}
	}
	for i := range ev.Exceptions {
		for j := range ev.Exceptions[i].Frames {
			if v := ev.Exceptions[i].Frames[j].Vars; v != nil {
				ev.Exceptions[i].Frames[j].Vars = jsonSafeMap(v)
			}
		}
	}
}

// statusChangeJSON is the body of a status change.
type statusChangeJSON struct {
	Status string `json:"status"`
	// InNextRelease resolves the issue in the next release: events from its latest
	// release (or older) do not reopen it.
	InNextRelease bool `json:"in_next_release"`
	// InRelease resolves in a given release instead of the latest seen.
	InRelease string `json:"in_release"`
	// IgnoreDuration ("1h", "7d") and IgnoreCount bound an ignore; IgnoreUntil is an
	// absolute end (RFC 3339).
	IgnoreDuration string    `json:"ignore_duration"`
	IgnoreUntil    time.Time `json:"ignore_until"`
	IgnoreCount    int64     `json:"ignore_count"`
}

// setStatus: PUT or POST issues/{id} or issues/{id}/status with a statusChangeJSON body;
// answers the updated issue.
func (a *API) setStatus(r *http.Request) result {
	if _, aerr := requestParams(r); aerr != nil {
		return result{err: aerr}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxStatusBody+1))
	if err != nil {
		return result{err: badData(fmt.Errorf("read body: %w", err))}
	}
	if len(body) > maxStatusBody {
		return result{err: badData(fmt.Errorf("body larger than %d bytes", maxStatusBody))}
	}
	var in statusChangeJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return result{err: badData(fmt.Errorf("status change body: %w", err))}
	}
	change := errtrack.StatusChange{Status: in.Status, ResolvedInRelease: in.InRelease,
		IgnoreUntil: in.IgnoreUntil, IgnoreCount: in.IgnoreCount}
	if in.IgnoreDuration != "" {
		d, err := parseDuration(in.IgnoreDuration)
		if err != nil || d <= 0 {
			return result{err: badData(fmt.Errorf("ignore_duration %q: want a positive duration such as 30m or 7d", in.IgnoreDuration))}
		}
		if !in.IgnoreUntil.IsZero() {
			return result{err: badData(errors.New("give ignore_duration or ignore_until, not both"))}
		}
		change.IgnoreUntil = a.now().Add(d)
	}
	id := r.PathValue("id")
	if in.InNextRelease {
		if in.Status != errtrack.StatusResolved || in.InRelease != "" {
			return result{err: badData(errors.New("in_next_release is for status resolved, without in_release"))}
		}
		is, err := a.issues.GetIssue(r.Context(), id)
		if err != nil {
			return result{err: issuesErr(err)}
		}
		// Without a release there is no "next" one: the issue is simply resolved, and
		// any new event reopens it.
		change.ResolvedInRelease = is.LastRelease
	}
	is, err := a.issues.SetStatus(r.Context(), id, change)
	if err != nil {
		return result{err: issuesErr(err)}
	}
	return result{data: is}
}

// issuesErr classifies the error store's invalid-request errors as 400.
func issuesErr(err error) error {
	if errors.Is(err, errtrack.ErrInvalid) {
		return badData(err)
	}
	return err
}
