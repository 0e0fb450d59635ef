package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// issueSorts maps IssueQuery.Sort to the column issues are ordered by (descending, then
// by issue id descending so that cursors are exact).
var issueSorts = map[string]string{
	"": "last_seen_ns", "last_seen": "last_seen_ns", "first_seen": "first_seen_ns",
	"events": "events", "users": "users",
}

// ListIssues returns one page of issues. See errtrack.Reader.
func (s *Store) ListIssues(ctx context.Context, q errtrack.IssueQuery) (errtrack.IssuePage, error) {
	s.flushErrors(ctx)
	col, ok := issueSorts[q.Sort]
	if !ok {
		return errtrack.IssuePage{}, fmt.Errorf("%w: unknown sort %q (want last_seen, first_seen, events or users)", errtrack.ErrInvalid, q.Sort)
	}
	limit := pageLimit(q.Limit, errtrack.DefaultIssueLimit, errtrack.MaxIssueLimit)
	var w where
	if !q.Start.IsZero() {
		w.add("last_seen_ns >= ?", q.Start.UnixNano())
	}
	if !q.End.IsZero() {
		w.add("last_seen_ns < ?", q.End.UnixNano())
	}
	if q.Project != "" {
		w.add("project = ?", q.Project)
	}
	if q.Service != "" {
		w.add("service = ?", q.Service)
	}
	if q.Environment != "" {
		w.add("contains(environments, ?)", jsonElement(q.Environment))
	}
	if q.Release != "" {
		w.add("contains(releases, ?)", jsonElement(q.Release))
	}
	switch q.Status {
	case "":
	case errtrack.StatusUnresolved:
		w.add("status IN (?, ?)", errtrack.StatusUnresolved, errtrack.StatusRegressed)
	case errtrack.StatusResolved, errtrack.StatusIgnored, errtrack.StatusRegressed:
		w.add("status = ?", q.Status)
	default:
		return errtrack.IssuePage{}, fmt.Errorf("%w: unknown status %q", errtrack.ErrInvalid, q.Status)
	}
	if q.Text != "" {
		w.add("(contains(lower(title), ?) OR contains(lower(culprit), ?))", strings.ToLower(q.Text), strings.ToLower(q.Text))
	}
	if q.Cursor != "" {
		v, id, err := parseErrorCursor(q.Cursor)
		if err != nil {
			return errtrack.IssuePage{}, err
		}
		w.add("("+col+" < ? OR ("+col+" = ? AND issue_id < ?))", v, v, id)
	}
	query := "SELECT " + issueColumns + ", " + col + " FROM error_issues" + w.sql() + " ORDER BY " + col + " DESC, issue_id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return errtrack.IssuePage{}, fmt.Errorf("list issues: %w", err)
	}
	defer rows.Close()
	page := errtrack.IssuePage{Issues: []errtrack.Issue{}}
	var lastKey int64
	for rows.Next() {
		if len(page.Issues) == limit {
			last := page.Issues[limit-1]
			page.Next = pageCursor(lastKey, last.ID)
			break
		}
		is, key, err := scanIssueKey(rows)
		if err != nil {
			return errtrack.IssuePage{}, fmt.Errorf("list issues: %w", err)
		}
		page.Issues = append(page.Issues, is)
		lastKey = key
	}
	if err := rows.Err(); err != nil {
		return errtrack.IssuePage{}, fmt.Errorf("list issues: %w", err)
	}
	return page, nil
}

// scanIssueKey scans an issue row followed by its sort key.
func scanIssueKey(r scanner) (errtrack.Issue, int64, error) {
	var key int64
	is, err := scanIssue(scanFunc(func(dest ...any) error { return r.Scan(append(dest, &key)...) }))
	return is, key, err
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// parseErrorCursor reads the cursor of an issue or event page (pageCursor).
func parseErrorCursor(c string) (int64, string, error) {
	key, id, ok := parsePageCursor(c)
	if !ok {
		return 0, "", fmt.Errorf("%w: malformed cursor %q", errtrack.ErrInvalid, c)
	}
	return key, id, nil
}

// GetIssue returns one issue. See errtrack.Reader.
func (s *Store) GetIssue(ctx context.Context, id string) (errtrack.Issue, error) {
	s.flushErrors(ctx)
	is, err := scanIssue(s.db.QueryRowContext(ctx, "SELECT "+issueColumns+" FROM error_issues WHERE issue_id = ?", id))
	if isNoRows(err) {
		return errtrack.Issue{}, fmt.Errorf("issue %s: %w", id, errtrack.ErrNotFound)
	}
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("get issue %s: %w", id, err)
	}
	return is, nil
}

// IssueEvents returns one page of an issue's events, newest first. See errtrack.Reader.
func (s *Store) IssueEvents(ctx context.Context, issueID string, q errtrack.EventQuery) (errtrack.EventPage, error) {
	s.flushErrors(ctx)
	limit := pageLimit(q.Limit, errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	query := "SELECT ts_ns, event_id, event FROM error_events WHERE issue_id = ?"
	args := []any{issueID}
	if q.Cursor != "" {
		ts, id, err := parseErrorCursor(q.Cursor)
		if err != nil {
			return errtrack.EventPage{}, err
		}
		query += " AND (ts_ns < ? OR (ts_ns = ? AND event_id < ?))"
		args = append(args, ts, ts, id)
	}
	query += " ORDER BY ts_ns DESC, event_id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return errtrack.EventPage{}, fmt.Errorf("issue events: %w", err)
	}
	defer rows.Close()
	page := errtrack.EventPage{Events: []errtrack.Event{}}
	var lastTs int64
	var lastID string
	for rows.Next() {
		if len(page.Events) == limit {
			page.Next = pageCursor(lastTs, lastID)
			break
		}
		var body []byte
		if err := rows.Scan(&lastTs, &lastID, &body); err != nil {
			return errtrack.EventPage{}, fmt.Errorf("issue events: %w", err)
		}
		ev, err := decodeEventBody(body)
		if err != nil {
			return errtrack.EventPage{}, fmt.Errorf("issue events: event %s: %w", lastID, err)
		}
		page.Events = append(page.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return errtrack.EventPage{}, fmt.Errorf("issue events: %w", err)
	}
	return page, nil
}

// GetEvent returns one event in full. See errtrack.Reader.
func (s *Store) GetEvent(ctx context.Context, eventID string) (errtrack.Event, error) {
	s.flushErrors(ctx)
	var body []byte
	err := s.db.QueryRowContext(ctx, "SELECT event FROM error_events WHERE event_id = ?", eventID).Scan(&body)
	if isNoRows(err) {
		return errtrack.Event{}, fmt.Errorf("event %s: %w", eventID, errtrack.ErrNotFound)
	}
	if err != nil {
		return errtrack.Event{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	ev, err := decodeEventBody(body)
	if err != nil {
		return errtrack.Event{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	return ev, nil
}

// IssueSeries counts one issue's events per bucket. See errtrack.Reader.
func (s *Store) IssueSeries(ctx context.Context, issueID string, start, end time.Time, step time.Duration) ([]errtrack.Bucket, error) {
	m, err := s.IssuesSeries(ctx, []string{issueID}, start, end, step)
	if err != nil {
		return nil, err
	}
	return m[issueID], nil
}

// IssuesSeries counts the events of several issues per bucket in one scan, for the
// sparklines of an issue list. See errtrack.SeriesReader.
func (s *Store) IssuesSeries(ctx context.Context, ids []string, start, end time.Time, step time.Duration) (map[string][]errtrack.Bucket, error) {
	s.flushErrors(ctx)
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
	args := []any{start.UnixNano(), int64(step)}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, start.UnixNano(), end.UnixNano())
	rows, err := s.db.QueryContext(ctx, `SELECT issue_id, (ts_ns - ?) // ? AS b, count(*) FROM error_events
		WHERE issue_id IN `+placeholderRows(1, len(ids))+` AND ts_ns >= ? AND ts_ns < ?
		GROUP BY issue_id, b ORDER BY issue_id, b`, args...)
	if err != nil {
		return nil, fmt.Errorf("issue series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			b, n int64
		)
		if err := rows.Scan(&id, &b, &n); err != nil {
			return nil, fmt.Errorf("issue series: %w", err)
		}
		out[id] = append(out[id], errtrack.Bucket{Start: start.Add(time.Duration(b) * step).UTC(), Count: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("issue series: %w", err)
	}
	return out, nil
}

// IssueTags counts the values of each tag over an issue's events; environment, release
// and level count as tags too (as in Sentry), unless an event's tags set them. See
// errtrack.Reader.
func (s *Store) IssueTags(ctx context.Context, issueID string) ([]errtrack.TagDistribution, error) {
	s.flushErrors(ctx)
	rows, err := s.db.QueryContext(ctx, `
		WITH ev AS (
			SELECT map_concat(
				map_from_entries(list_filter([
					{'key': 'environment', 'value': environment},
					{'key': 'release', 'value': release},
					{'key': 'level', 'value': level}], lambda x: x.value <> '')),
				CAST(CAST(tags AS JSON) AS MAP(VARCHAR, VARCHAR))) AS t
			FROM error_events WHERE issue_id = ?),
		kv AS (SELECT unnest(map_keys(t)) AS k, unnest(map_values(t)) AS v FROM ev)
		SELECT k, v, count(*) AS n FROM kv GROUP BY k, v ORDER BY k, n DESC, v`, issueID)
	if err != nil {
		return nil, fmt.Errorf("issue tags: %w", err)
	}
	defer rows.Close()
	out := []errtrack.TagDistribution{}
	for rows.Next() {
		var k, v string
		var n int64
		if err := rows.Scan(&k, &v, &n); err != nil {
			return nil, fmt.Errorf("issue tags: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Key != k {
			out = append(out, errtrack.TagDistribution{Key: k})
		}
		d := &out[len(out)-1]
		if len(d.Values) < errtrack.MaxTagValues {
			d.Values = append(d.Values, errtrack.TagValue{Value: v, Count: n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("issue tags: %w", err)
	}
	return out, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
