package cherrors

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// issueSorts maps IssueQuery.Sort to the column issues are ordered by (descending, then
// by issue id descending so that cursors are exact).
var issueSorts = map[string]string{
	"": "last_seen", "last_seen": "last_seen", "first_seen": "first_seen",
	"events": "events", "users": "users",
}

// issues is a SELECT of every issue's fields (scanIssue's order), its counters merged
// from the stats and its state the latest one. statsCond filters the stats rows before
// they are merged (on issue_id: the states are filtered by it too).
func (s *Store) issues(statsCond string) string {
	stats := "SELECT issue_id, argMinMerge(first) AS f, toInt64(min(first_seen)) AS first_seen, toInt64(max(last_seen)) AS last_seen, " +
		"toInt64(sum(events)) AS events, toInt64(uniqExactIfMerge(users)) AS users, " +
		"argMinIfMerge(first_release) AS first_release, argMaxIfMerge(last_release) AS last_release, " +
		"argMaxIfMerge(level) AS level, argMaxMerge(last_event_id) AS last_event_id, " +
		"arraySort(groupUniqArrayArray(releases)) AS releases, arraySort(groupUniqArrayArray(environments)) AS environments " +
		"FROM " + s.schema.From(statsTable) + " WHERE tenant = ''"
	if statsCond != "" {
		stats += " AND " + statsCond
	}
	stats += " GROUP BY issue_id"
	return "SELECT a.issue_id AS issue_id, f.2 AS grouping_version, f.1 AS fingerprint, f.3 AS title, f.4 AS culprit, " +
		"f.5 AS type, level, f.6 AS project, f.7 AS service, if(b.st.1 = '', 'unresolved', b.st.1) AS status, " +
		"b.st.2 AS resolved_in_release, b.st.3 AS ignore_until_ns, b.st.4 AS ignore_count, first_seen, last_seen, " +
		"events, users, first_release, last_release, releases, environments, last_event_id " +
		"FROM (" + stats + ") AS a LEFT JOIN (" + s.stateWinner(statsCond) + ") AS b ON a.issue_id = b.issue_id"
}

func scanIssue(r chsql.Rows) (errtrack.Issue, error) {
	var (
		is                               errtrack.Issue
		gv                               uint16
		ignoreUntil, firstSeen, lastSeen int64
	)
	dest := []any{&is.ID, &gv, &is.Fingerprint, &is.Title, &is.Culprit, &is.Type, &is.Level,
		&is.Project, &is.Service, &is.Status, &is.ResolvedInRelease, &ignoreUntil, &is.IgnoreCount,
		&firstSeen, &lastSeen, &is.Events, &is.Users, &is.FirstRelease, &is.LastRelease,
		&is.Releases, &is.Environments, &is.LastEventID}
	if err := r.Scan(dest...); err != nil {
		return is, err
	}
	is.GroupingVersion = int(gv)
	if ignoreUntil != 0 {
		is.IgnoreUntil = time.Unix(0, ignoreUntil).UTC()
	}
	is.FirstSeen, is.LastSeen = time.Unix(0, firstSeen).UTC(), time.Unix(0, lastSeen).UTC()
	if is.Releases == nil {
		is.Releases = []string{}
	}
	if is.Environments == nil {
		is.Environments = []string{}
	}
	return is, nil
}

// sortKeys are the merged counters of IssueQuery.Sort, as Int64.
var sortKeys = map[string]string{
	"last_seen": "toInt64(max(last_seen))", "first_seen": "toInt64(min(first_seen))",
	"events": "toInt64(sum(events))", "users": "toInt64(uniqExactIfMerge(users))",
}

// ListIssues returns one page of issues. See errtrack.Reader.
//
// Two queries: the page's ids, merging only the sort key and what the filters need, then
// every field of those issues. Merging every field of every issue to keep 100 cost more
// than the whole page does this way (a page over 10k issues: see BenchmarkListIssues1M).
func (s *Store) ListIssues(ctx context.Context, q errtrack.IssueQuery) (errtrack.IssuePage, error) {
	col, ok := issueSorts[q.Sort]
	if !ok {
		return errtrack.IssuePage{}, fmt.Errorf("%w: unknown sort %q (want last_seen, first_seen, events or users)", errtrack.ErrInvalid, q.Sort)
	}
	limit := pageLimit(q.Limit, errtrack.DefaultIssueLimit, errtrack.MaxIssueLimit)
	sel := []string{"issue_id", sortKeys[col] + " AS k"}
	var having, where []string
	if !q.Start.IsZero() {
		having = append(having, "max(last_seen) >= "+strconv.FormatInt(q.Start.UnixNano(), 10))
	}
	if !q.End.IsZero() {
		having = append(having, "max(last_seen) < "+strconv.FormatInt(q.End.UnixNano(), 10))
	}
	if q.Project != "" || q.Service != "" || q.Text != "" {
		sel = append(sel, "argMinMerge(first) AS f")
	}
	if q.Project != "" {
		having = append(having, "f.6 = "+chsql.String(q.Project))
	}
	if q.Service != "" {
		having = append(having, "f.7 = "+chsql.String(q.Service))
	}
	if q.Environment != "" {
		having = append(having, "has(groupUniqArrayArray(environments), "+chsql.String(q.Environment)+")")
	}
	if q.Release != "" {
		having = append(having, "has(groupUniqArrayArray(releases), "+chsql.String(q.Release)+")")
	}
	if q.Text != "" {
		t := chsql.String(q.Text)
		having = append(having, "(positionCaseInsensitiveUTF8(f.3, "+t+") > 0 OR positionCaseInsensitiveUTF8(f.4, "+t+") > 0)")
	}
	status := "if(b.st.1 = '', 'unresolved', b.st.1)"
	switch q.Status {
	case "":
	case errtrack.StatusUnresolved:
		where = append(where, status+" IN ('unresolved', 'regressed')")
	case errtrack.StatusResolved, errtrack.StatusIgnored, errtrack.StatusRegressed:
		where = append(where, status+" = "+chsql.String(q.Status))
	default:
		return errtrack.IssuePage{}, fmt.Errorf("%w: unknown status %q", errtrack.ErrInvalid, q.Status)
	}
	if q.Cursor != "" {
		v, id, err := parseCursor(q.Cursor)
		if err != nil {
			return errtrack.IssuePage{}, err
		}
		k := strconv.FormatInt(v, 10)
		where = append(where, "(a.k < "+k+" OR (a.k = "+k+" AND a.issue_id < "+chsql.String(id)+"))")
	}
	query := "SELECT a.issue_id, a.k FROM (SELECT " + strings.Join(sel, ", ") + " FROM " + s.schema.From(statsTable) +
		" WHERE tenant = '' GROUP BY issue_id"
	if len(having) > 0 {
		query += " HAVING " + strings.Join(having, " AND ")
	}
	query += ") AS a"
	if q.Status != "" {
		query += " LEFT JOIN (" + s.stateWinner("") + ") AS b ON a.issue_id = b.issue_id"
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY a.k DESC, a.issue_id DESC LIMIT " + strconv.Itoa(limit+1)
	var ids []string
	var keys []int64
	err := s.scan(ctx, query, func(r chsql.Rows) error {
		var id string
		var k int64
		if err := r.Scan(&id, &k); err != nil {
			return err
		}
		ids, keys = append(ids, id), append(keys, k)
		return nil
	})
	if err != nil {
		return errtrack.IssuePage{}, fmt.Errorf("list issues: %w", err)
	}
	page := errtrack.IssuePage{Issues: []errtrack.Issue{}}
	if len(ids) > limit {
		ids, keys = ids[:limit], keys[:limit]
		page.Next = strconv.FormatInt(keys[limit-1], 10) + ":" + ids[limit-1]
	}
	if len(ids) == 0 {
		return page, nil
	}
	byID := make(map[string]errtrack.Issue, len(ids))
	err = s.scan(ctx, s.issues("issue_id IN "+inList(ids)), func(r chsql.Rows) error {
		is, err := scanIssue(r)
		byID[is.ID] = is
		return err
	})
	if err != nil {
		return errtrack.IssuePage{}, fmt.Errorf("list issues: %w", err)
	}
	for _, id := range ids {
		// An issue deleted between the two queries (retention) is left out.
		if is, ok := byID[id]; ok {
			page.Issues = append(page.Issues, is)
		}
	}
	return page, nil
}

func pageLimit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}

// parseCursor reads the cursor of an issue or event page: "<key>:<id>".
func parseCursor(c string) (int64, string, error) {
	k, id, found := strings.Cut(c, ":")
	n, err := strconv.ParseInt(k, 10, 64)
	if !found || err != nil || id == "" {
		return 0, "", fmt.Errorf("%w: malformed cursor %q", errtrack.ErrInvalid, c)
	}
	return n, id, nil
}

// GetIssue returns one issue. See errtrack.Reader.
func (s *Store) GetIssue(ctx context.Context, id string) (errtrack.Issue, error) {
	var out []errtrack.Issue
	err := s.scan(ctx, s.issues("issue_id = "+chsql.String(id)), func(r chsql.Rows) error {
		is, err := scanIssue(r)
		out = append(out, is)
		return err
	})
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("get issue %s: %w", id, err)
	}
	if len(out) == 0 {
		return errtrack.Issue{}, fmt.Errorf("issue %s: %w", id, errtrack.ErrNotFound)
	}
	return out[0], nil
}

// events runs a query whose rows are (ts_ns, event_id, event) and decodes the events.
func (s *Store) events(ctx context.Context, query string, f func(ts int64, ev errtrack.Event) bool) error {
	done := false
	return s.scan(ctx, query, func(r chsql.Rows) error {
		if done {
			return nil
		}
		var ts int64
		var id, body string
		if err := r.Scan(&ts, &id, &body); err != nil {
			return err
		}
		var ev errtrack.Event
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			return fmt.Errorf("event %s: decode: %w", id, err)
		}
		done = !f(ts, ev)
		return nil
	})
}

// IssueEvents returns one page of an issue's events, newest first. See errtrack.Reader.
func (s *Store) IssueEvents(ctx context.Context, issueID string, q errtrack.EventQuery) (errtrack.EventPage, error) {
	limit := pageLimit(q.Limit, errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	query := "SELECT ts_ns, event_id, event FROM " + s.schema.From(eventsTable) + " WHERE tenant = '' AND issue_id = " + chsql.String(issueID)
	if q.Cursor != "" {
		ts, id, err := parseCursor(q.Cursor)
		if err != nil {
			return errtrack.EventPage{}, err
		}
		k := strconv.FormatInt(ts, 10)
		query += " AND (ts_ns < " + k + " OR (ts_ns = " + k + " AND event_id < " + chsql.String(id) + "))"
	}
	// LIMIT 1 BY: a duplicate not merged yet is listed once.
	query += " ORDER BY ts_ns DESC, event_id DESC LIMIT 1 BY event_id LIMIT " + strconv.Itoa(limit+1)
	page := errtrack.EventPage{Events: []errtrack.Event{}}
	var lastTs int64
	err := s.events(ctx, query, func(ts int64, ev errtrack.Event) bool {
		if len(page.Events) == limit {
			page.Next = strconv.FormatInt(lastTs, 10) + ":" + page.Events[limit-1].EventID
			return false
		}
		page.Events = append(page.Events, ev)
		lastTs = ts
		return true
	})
	if err != nil {
		return errtrack.EventPage{}, fmt.Errorf("issue events: %w", err)
	}
	return page, nil
}

// GetEvent returns one event in full. See errtrack.Reader.
func (s *Store) GetEvent(ctx context.Context, eventID string) (errtrack.Event, error) {
	var out []errtrack.Event
	err := s.events(ctx, "SELECT ts_ns, event_id, event FROM "+s.schema.From(eventsTable)+" WHERE tenant = '' AND event_id = "+
		chsql.String(eventID)+" LIMIT 1", func(_ int64, ev errtrack.Event) bool {
		out = append(out, ev)
		return false
	})
	if err != nil {
		return errtrack.Event{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	if len(out) == 0 {
		return errtrack.Event{}, fmt.Errorf("event %s: %w", eventID, errtrack.ErrNotFound)
	}
	return out[0], nil
}

// TraceEvents returns the events of one trace, newest first (the trace_id bloom filter
// skips the granules without it). See errtrack.Reader.
func (s *Store) TraceEvents(ctx context.Context, traceID string, limit int) ([]errtrack.Event, error) {
	limit = pageLimit(limit, errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	out := []errtrack.Event{}
	if traceID == "" {
		return out, nil
	}
	err := s.events(ctx, "SELECT ts_ns, event_id, event FROM "+s.schema.From(eventsTable)+" WHERE tenant = '' AND trace_id = "+
		chsql.String(traceID)+" ORDER BY ts_ns DESC, event_id DESC LIMIT 1 BY event_id LIMIT "+strconv.Itoa(limit),
		func(_ int64, ev errtrack.Event) bool {
			out = append(out, ev)
			return true
		})
	if err != nil {
		return nil, fmt.Errorf("trace events: %w", err)
	}
	return out, nil
}

// IssueSeries counts one issue's events per bucket. See errtrack.Reader.
func (s *Store) IssueSeries(ctx context.Context, issueID string, start, end time.Time, step time.Duration) ([]errtrack.Bucket, error) {
	m, err := s.IssuesSeries(ctx, []string{issueID}, start, end, step)
	if err != nil {
		return nil, err
	}
	return m[issueID], nil
}

// IssuesSeries counts the events of several issues per bucket in one query: the events
// are ordered by issue and time, so it reads the ranges of those issues only. Distinct
// event ids are counted, so a duplicate not merged yet counts once. See
// errtrack.SeriesReader.
func (s *Store) IssuesSeries(ctx context.Context, ids []string, start, end time.Time, step time.Duration) (map[string][]errtrack.Bucket, error) {
	if step <= 0 {
		return nil, fmt.Errorf("%w: step must be > 0", errtrack.ErrInvalid)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("%w: end must be after start", errtrack.ErrInvalid)
	}
	out := make(map[string][]errtrack.Bucket, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	from := strconv.FormatInt(start.UnixNano(), 10)
	query := "SELECT issue_id, intDiv(ts_ns - " + from + ", " + strconv.FormatInt(int64(step), 10) + ") AS b, toInt64(uniqExact(event_id)) FROM " +
		s.schema.From(eventsTable) + " WHERE tenant = '' AND issue_id IN " + inList(ids) + " AND ts_ns >= " + from +
		" AND ts_ns < " + strconv.FormatInt(end.UnixNano(), 10) + " GROUP BY issue_id, b ORDER BY issue_id, b"
	err := s.scan(ctx, query, func(r chsql.Rows) error {
		var id string
		var b, n int64
		if err := r.Scan(&id, &b, &n); err != nil {
			return err
		}
		out[id] = append(out[id], errtrack.Bucket{Start: start.Add(time.Duration(b) * step).UTC(), Count: n})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("issue series: %w", err)
	}
	return out, nil
}

// IssueTags counts the values of each tag over an issue's events; environment, release
// and level count as tags too (as in Sentry), unless an event's tags set them. See
// errtrack.Reader.
func (s *Store) IssueTags(ctx context.Context, issueID string) ([]errtrack.TagDistribution, error) {
	query := "SELECT k, v, toInt64(uniqExact(event_id)) AS n FROM (SELECT event_id, mapUpdate(" +
		"mapFilter((k, v) -> v != '', map('environment', toString(environment), 'release', toString(release), 'level', toString(level))), " +
		"CAST(tags, 'Map(String, String)')) AS t FROM " + s.schema.From(eventsTable) + " WHERE tenant = '' AND issue_id = " + chsql.String(issueID) +
		") ARRAY JOIN mapKeys(t) AS k, mapValues(t) AS v GROUP BY k, v ORDER BY k, n DESC, v"
	out := []errtrack.TagDistribution{}
	err := s.scan(ctx, query, func(r chsql.Rows) error {
		var k, v string
		var n int64
		if err := r.Scan(&k, &v, &n); err != nil {
			return err
		}
		if len(out) == 0 || out[len(out)-1].Key != k {
			out = append(out, errtrack.TagDistribution{Key: k})
		}
		d := &out[len(out)-1]
		if len(d.Values) < errtrack.MaxTagValues {
			d.Values = append(d.Values, errtrack.TagValue{Value: v, Count: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("issue tags: %w", err)
	}
	return out, nil
}
