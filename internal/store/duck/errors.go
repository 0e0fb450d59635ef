package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Error events (errtrack) live in plain tables, like runs, not in day partitions: there
// are far fewer of them than log records, an event is looked up by id (dedup, the event
// page) and issues are updated in place.
//
//   - error_events: one row per event; the summary columns are what lists, series and tag
//     distributions read, event is the whole event as JSON after scrubbing. The primary
//     key on event_id deduplicates retries (INSERT ... ON CONFLICT DO NOTHING RETURNING
//     tells which events are new).
//   - error_issues: one row per issue with its counters, kept up to date in the same
//     transaction as the events, so that the issue list never scans events.
//   - error_issue_users: the distinct users of each issue, for the Users counter.
//   - error_releases: when each release was first seen per project (or service), for
//     ordering releases that are not semantic versions (errtrack.ReleaseNewer).
const errorsDDL = `
CREATE TABLE IF NOT EXISTS error_events (
	event_id VARCHAR PRIMARY KEY,
	issue_id VARCHAR NOT NULL,
	ts_ns BIGINT NOT NULL,
	received_ns BIGINT NOT NULL,
	project VARCHAR NOT NULL,
	service VARCHAR NOT NULL,
	environment VARCHAR NOT NULL,
	release VARCHAR NOT NULL,
	level VARCHAR NOT NULL,
	user_key VARCHAR NOT NULL,
	trace_id VARCHAR NOT NULL,
	tags MAP(VARCHAR, VARCHAR) NOT NULL,
	event VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS error_issues (
	issue_id VARCHAR PRIMARY KEY,
	grouping_version INTEGER NOT NULL,
	fingerprint VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	culprit VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	level VARCHAR NOT NULL,
	project VARCHAR NOT NULL,
	service VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	resolved_in_release VARCHAR NOT NULL,
	ignore_until_ns BIGINT NOT NULL,
	ignore_count BIGINT NOT NULL,
	first_seen_ns BIGINT NOT NULL,
	last_seen_ns BIGINT NOT NULL,
	events BIGINT NOT NULL,
	users BIGINT NOT NULL,
	first_release VARCHAR NOT NULL,
	last_release VARCHAR NOT NULL,
	releases VARCHAR[] NOT NULL,
	environments VARCHAR[] NOT NULL,
	last_event_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS error_issue_users (
	issue_id VARCHAR NOT NULL,
	user_key VARCHAR NOT NULL,
	PRIMARY KEY (issue_id, user_key)
);
CREATE TABLE IF NOT EXISTS error_releases (
	scope VARCHAR NOT NULL,
	release VARCHAR NOT NULL,
	first_seen_ns BIGINT NOT NULL,
	PRIMARY KEY (scope, release)
)`

var _ errtrack.Store = (*Store)(nil)

// errorsChunk is how many rows one INSERT statement carries (see upsertChunk).
const errorsChunk = 100

// initErrors creates the error tables. Called once by Open.
func initErrors(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, errorsDDL); err != nil {
		return fmt.Errorf("create error tables: %w", err)
	}
	return nil
}

// storedEvent is an event with its JSON, encoded before the transaction.
type storedEvent struct {
	ev      *errtrack.Event
	json    string
	tags    string
	userKey string
}

// WriteEvents stores events and updates their issues in one transaction. See
// errtrack.Writer.
func (s *Store) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	if len(events) == 0 {
		return nil
	}
	batch := make([]storedEvent, 0, len(events))
	seen := make(map[string]bool, len(events))
	for i := range events {
		e := events[i] // a copy: the times are filled in below, the caller's slice stays as it is
		ev := &e
		if ev.Received.IsZero() {
			ev.Received = time.Now()
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = ev.Received
		}
		if ev.EventID == "" || ev.GroupID == "" {
			return fmt.Errorf("write events: event %d has no event id or group id", i)
		}
		if seen[ev.EventID] {
			continue // a repeated id in one batch is a duplicate too
		}
		seen[ev.EventID] = true
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("write event %s: encode: %w", ev.EventID, err)
		}
		tags, err := json.Marshal(nonNilTags(ev.Tags))
		if err != nil {
			return fmt.Errorf("write event %s: encode tags: %w", ev.EventID, err)
		}
		batch = append(batch, storedEvent{ev: ev, json: string(body), tags: string(tags), userKey: userKey(ev.User)})
	}
	// Writers are serialised: two transactions updating one issue row would conflict.
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	if err := s.guard.check(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write events: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	fresh, err := insertEvents(ctx, tx, batch)
	if err != nil {
		return err
	}
	if len(fresh) > 0 {
		if err := updateIssues(ctx, tx, fresh); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write events: commit: %w", err)
	}
	return nil
}

func nonNilTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

// userKey identifies a user for the distinct-users count: the id, else the e-mail, the
// user name or the IP address.
func userKey(u *errtrack.User) string {
	switch {
	case u == nil:
		return ""
	case u.ID != "":
		return "id:" + u.ID
	case u.Email != "":
		return "email:" + u.Email
	case u.Username != "":
		return "username:" + u.Username
	case u.IPAddress != "":
		return "ip:" + u.IPAddress
	}
	return ""
}

// insertEvents inserts the events whose id is not stored yet and returns those.
func insertEvents(ctx context.Context, tx *sql.Tx, batch []storedEvent) ([]storedEvent, error) {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(CAST(? AS JSON) AS MAP(VARCHAR, VARCHAR)), ?)"
	inserted := make(map[string]bool, len(batch))
	for chunk := range slices.Chunk(batch, errorsChunk) {
		args := make([]any, 0, 13*len(chunk))
		for _, se := range chunk {
			ev := se.ev
			args = append(args, ev.EventID, ev.GroupID, ev.Timestamp.UnixNano(), ev.Received.UnixNano(),
				ev.Project, ev.Service, ev.Environment, ev.Release, ev.Level, se.userKey, ev.TraceID,
				se.tags, se.json)
		}
		query := "INSERT INTO error_events VALUES " + strings.Repeat(row+", ", len(chunk)-1) + row +
			" ON CONFLICT DO NOTHING RETURNING event_id"
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("insert events %s...: %w", chunk[0].ev.EventID, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("insert events: %w", err)
			}
			inserted[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
	}
	fresh := batch[:0:0]
	for _, se := range batch {
		if inserted[se.ev.EventID] {
			fresh = append(fresh, se)
		}
	}
	return fresh, nil
}

// updateIssues applies new events to their issues (errtrack.ApplyEvent), in time order,
// and writes the issue rows, distinct users and release first-seen times.
func updateIssues(ctx context.Context, tx *sql.Tx, fresh []storedEvent) error {
	ids := make([]string, 0, len(fresh))
	for _, se := range fresh {
		ids = append(ids, se.ev.GroupID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	issues, err := loadIssues(ctx, tx, ids)
	if err != nil {
		return err
	}
	if err := insertReleases(ctx, tx, fresh); err != nil {
		return err
	}
	newUsers, err := insertUsers(ctx, tx, fresh)
	if err != nil {
		return err
	}
	releases := func(scope string) errtrack.ReleaseInfo {
		return func(release string) (time.Time, bool) {
			var ns int64
			err := tx.QueryRowContext(ctx, "SELECT first_seen_ns FROM error_releases WHERE scope = ? AND release = ?",
				scope, release).Scan(&ns)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(0, ns).UTC(), true
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].ev.Timestamp.Before(fresh[j].ev.Timestamp) })
	for _, se := range fresh {
		is := issues[se.ev.GroupID]
		is, _ = errtrack.ApplyEvent(is, se.ev, releases(releaseScope(se.ev)))
		issues[se.ev.GroupID] = is
	}
	out := make([]errtrack.Issue, 0, len(issues))
	for _, id := range ids {
		is := issues[id]
		is.Users += newUsers[id]
		out = append(out, is)
	}
	return upsertIssues(ctx, tx, out)
}

func releaseScope(ev *errtrack.Event) string {
	if ev.Project != "" {
		return "project:" + ev.Project
	}
	return "service:" + ev.Service
}

func insertReleases(ctx context.Context, tx *sql.Tx, fresh []storedEvent) error {
	first := map[[2]string]int64{}
	for _, se := range fresh {
		if se.ev.Release == "" {
			continue
		}
		k := [2]string{releaseScope(se.ev), se.ev.Release}
		ns := se.ev.Timestamp.UnixNano()
		if old, ok := first[k]; !ok || ns < old {
			first[k] = ns
		}
	}
	if len(first) == 0 {
		return nil
	}
	var args []any
	n := 0
	for k, ns := range first {
		args = append(args, k[0], k[1], ns)
		n++
	}
	const row = "(?, ?, ?)"
	_, err := tx.ExecContext(ctx, "INSERT INTO error_releases VALUES "+strings.Repeat(row+", ", n-1)+row+`
ON CONFLICT (scope, release) DO UPDATE SET first_seen_ns = least(error_releases.first_seen_ns, excluded.first_seen_ns)`, args...)
	if err != nil {
		return fmt.Errorf("record releases: %w", err)
	}
	return nil
}

// insertUsers records (issue, user) pairs and returns, per issue, how many were new.
func insertUsers(ctx context.Context, tx *sql.Tx, fresh []storedEvent) (map[string]int64, error) {
	pairs := map[[2]string]bool{}
	for _, se := range fresh {
		if se.userKey != "" {
			pairs[[2]string{se.ev.GroupID, se.userKey}] = true
		}
	}
	out := map[string]int64{}
	if len(pairs) == 0 {
		return out, nil
	}
	list := make([][2]string, 0, len(pairs))
	for p := range pairs {
		list = append(list, p)
	}
	for chunk := range slices.Chunk(list, errorsChunk) {
		args := make([]any, 0, 2*len(chunk))
		for _, p := range chunk {
			args = append(args, p[0], p[1])
		}
		rows, err := tx.QueryContext(ctx, "INSERT INTO error_issue_users VALUES "+
			strings.Repeat("(?, ?), ", len(chunk)-1)+"(?, ?) ON CONFLICT DO NOTHING RETURNING issue_id", args...)
		if err != nil {
			return nil, fmt.Errorf("record users: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("record users: %w", err)
			}
			out[id]++
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("record users: %w", err)
		}
	}
	return out, nil
}

const issueColumns = `issue_id, grouping_version, fingerprint, title, culprit, type, level, project, service,
	status, resolved_in_release, ignore_until_ns, ignore_count, first_seen_ns, last_seen_ns, events, users,
	first_release, last_release, CAST(to_json(releases) AS VARCHAR), CAST(to_json(environments) AS VARCHAR), last_event_id`

type scanner interface{ Scan(dest ...any) error }

func scanIssue(r scanner) (errtrack.Issue, error) {
	var (
		is                               errtrack.Issue
		ignoreUntil, firstSeen, lastSeen int64
		releasesJSON, environmentsJSON   string
	)
	err := r.Scan(&is.ID, &is.GroupingVersion, &is.Fingerprint, &is.Title, &is.Culprit, &is.Type, &is.Level,
		&is.Project, &is.Service, &is.Status, &is.ResolvedInRelease, &ignoreUntil, &is.IgnoreCount,
		&firstSeen, &lastSeen, &is.Events, &is.Users, &is.FirstRelease, &is.LastRelease,
		&releasesJSON, &environmentsJSON, &is.LastEventID)
	if err != nil {
		return is, err
	}
	if ignoreUntil != 0 {
		is.IgnoreUntil = time.Unix(0, ignoreUntil).UTC()
	}
	is.FirstSeen, is.LastSeen = time.Unix(0, firstSeen).UTC(), time.Unix(0, lastSeen).UTC()
	if err := json.Unmarshal([]byte(releasesJSON), &is.Releases); err != nil {
		return is, fmt.Errorf("decode releases: %w", err)
	}
	if err := json.Unmarshal([]byte(environmentsJSON), &is.Environments); err != nil {
		return is, fmt.Errorf("decode environments: %w", err)
	}
	if is.Releases == nil {
		is.Releases = []string{}
	}
	if is.Environments == nil {
		is.Environments = []string{}
	}
	return is, nil
}

func loadIssues(ctx context.Context, tx *sql.Tx, ids []string) (map[string]errtrack.Issue, error) {
	out := make(map[string]errtrack.Issue, len(ids))
	for chunk := range slices.Chunk(ids, errorsChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+issueColumns+" FROM error_issues WHERE issue_id IN ("+
			strings.Repeat("?, ", len(chunk)-1)+"?)", args...)
		if err != nil {
			return nil, fmt.Errorf("load issues: %w", err)
		}
		for rows.Next() {
			is, err := scanIssue(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("load issues: %w", err)
			}
			out[is.ID] = is
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("load issues: %w", err)
		}
	}
	return out, nil
}

func upsertIssues(ctx context.Context, tx *sql.Tx, issues []errtrack.Issue) error {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(CAST(? AS JSON) AS VARCHAR[]), CAST(CAST(? AS JSON) AS VARCHAR[]), ?)"
	for chunk := range slices.Chunk(issues, errorsChunk) {
		args := make([]any, 0, 22*len(chunk))
		for _, is := range chunk {
			var ignoreUntil int64
			if !is.IgnoreUntil.IsZero() {
				ignoreUntil = is.IgnoreUntil.UnixNano()
			}
			rel, _ := json.Marshal(nonNilList(is.Releases))
			env, _ := json.Marshal(nonNilList(is.Environments))
			args = append(args, is.ID, is.GroupingVersion, is.Fingerprint, is.Title, is.Culprit, is.Type, is.Level,
				is.Project, is.Service, is.Status, is.ResolvedInRelease, ignoreUntil, is.IgnoreCount,
				is.FirstSeen.UnixNano(), is.LastSeen.UnixNano(), is.Events, is.Users, is.FirstRelease, is.LastRelease,
				string(rel), string(env), is.LastEventID)
		}
		query := "INSERT OR REPLACE INTO error_issues VALUES " + strings.Repeat(row+", ", len(chunk)-1) + row
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("write issues %s...: %w", chunk[0].ID, err)
		}
	}
	return nil
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// SetStatus changes an issue's status. See errtrack.Store.
func (s *Store) SetStatus(ctx context.Context, id string, change errtrack.StatusChange) (errtrack.Issue, error) {
	if err := change.Validate(); err != nil {
		return errtrack.Issue{}, err
	}
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	issues, err := loadIssues(ctx, tx, []string{id})
	if err != nil {
		return errtrack.Issue{}, err
	}
	is, ok := issues[id]
	if !ok {
		return errtrack.Issue{}, fmt.Errorf("issue %s: %w", id, errtrack.ErrNotFound)
	}
	if is, err = errtrack.ApplyStatus(is, change); err != nil {
		return errtrack.Issue{}, err
	}
	var ignoreUntil int64
	if !is.IgnoreUntil.IsZero() {
		ignoreUntil = is.IgnoreUntil.UnixNano()
	}
	_, err = tx.ExecContext(ctx, `UPDATE error_issues SET status = ?, resolved_in_release = ?, ignore_until_ns = ?,
		ignore_count = ? WHERE issue_id = ?`, is.Status, is.ResolvedInRelease, ignoreUntil, is.IgnoreCount, id)
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: commit: %w", err)
	}
	return is, nil
}

// dropErrorsBefore deletes the events that happened before cutoff and the issues whose
// last event is older. The counters of the remaining issues keep counting the deleted
// events (as Sentry's do): they say how often the issue happened since it was first seen.
func (s *Store) dropErrorsBefore(ctx context.Context, cutoff time.Time) error {
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	ns := cutoff.UnixNano()
	res, err := s.db.ExecContext(ctx, "DELETE FROM error_events WHERE ts_ns < ?", ns)
	if err != nil {
		return fmt.Errorf("delete error events: %w", err)
	}
	events, _ := res.RowsAffected()
	res, err = s.db.ExecContext(ctx, "DELETE FROM error_issues WHERE last_seen_ns < ?", ns)
	if err != nil {
		return fmt.Errorf("delete issues: %w", err)
	}
	issues, _ := res.RowsAffected()
	if issues > 0 {
		if _, err := s.db.ExecContext(ctx,
			"DELETE FROM error_issue_users WHERE issue_id NOT IN (SELECT issue_id FROM error_issues)"); err != nil {
			return fmt.Errorf("delete issue users: %w", err)
		}
	}
	if events > 0 || issues > 0 {
		s.logger.Info("retention deleted error events", "cutoff", cutoff, "events", events, "issues", issues)
	}
	return nil
}
