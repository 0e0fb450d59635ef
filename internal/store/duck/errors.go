package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Error events (errtrack) live in plain tables, like runs, not in day partitions: there
// are far fewer of them than log records, an event is looked up by id (dedup, the event
// page) and issues are updated in place.
//
//   - error_events: one row per event; the summary columns are what lists, series and tag
//     distributions read, tags is a JSON object, event is the whole event as JSON after
//     scrubbing. Rows go in through the chunk appender (chunkappend.go), after a lookup
//     of the batch's ids on the primary key drops the events already stored (retries).
//     Multi-row INSERT statements cost ~0.3 ms of CPU per 9 KB event in DuckDB's binder
//     and planner (BenchmarkRecord, batch=100: 890 events per CPU-second).
//   - error_issues: one row per issue with its counters, kept up to date in the same
//     transaction as the events, so that the issue list never scans events. Releases and
//     environments are JSON arrays of strings (filtered by their JSON-encoded element,
//     jsonElement). Existing issues are changed with one UPDATE ... FROM (VALUES ...)
//     per batch, new ones inserted: INSERT OR REPLACE of the rows, with LIST columns,
//     took a third of the write path's CPU.
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
	tags VARCHAR NOT NULL,
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
	releases VARCHAR NOT NULL,
	environments VARCHAR NOT NULL,
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
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write events: connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("write events: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// A fresh context: the caller's may be what failed.
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	fresh, err := s.appendEvents(ctx, conn, batch)
	if err != nil {
		return err
	}
	if len(fresh) > 0 {
		if err := updateIssues(ctx, conn, fresh); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("write events: commit: %w", err)
	}
	committed = true
	return nil
}

// sqlRunner is what the write path needs of a connection or transaction.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// errorEventTypes are the column types of error_events, for the chunk appender.
var errorEventTypes = []mapping.Type{
	mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeBigInt, mapping.TypeBigInt,
	mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar,
	mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar,
}

// appendEvents appends the events whose id is not stored yet and returns those.
func (s *Store) appendEvents(ctx context.Context, conn *sql.Conn, batch []storedEvent) ([]storedEvent, error) {
	stored := map[string]bool{}
	for chunk := range slices.Chunk(batch, errorsChunk) {
		args := make([]any, len(chunk))
		for i, se := range chunk {
			args[i] = se.ev.EventID
		}
		rows, err := conn.QueryContext(ctx, "SELECT event_id FROM error_events WHERE event_id IN ("+
			strings.Repeat("?, ", len(chunk)-1)+"?)", args...)
		if err != nil {
			return nil, fmt.Errorf("look up event ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up event ids: %w", err)
			}
			stored[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("look up event ids: %w", err)
		}
	}
	fresh := make([]storedEvent, 0, len(batch))
	for _, se := range batch {
		if !stored[se.ev.EventID] {
			fresh = append(fresh, se)
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	err := conn.Raw(func(dc any) error {
		a, err := newChunkAppender(dc.(driver.Conn), "error_events", errorEventTypes, s.errorBlocks)
		if err != nil {
			return err
		}
		for _, se := range fresh {
			ev := se.ev
			a.String(0, ev.EventID)
			a.String(1, ev.GroupID)
			a.Int64(2, ev.Timestamp.UnixNano())
			a.Int64(3, ev.Received.UnixNano())
			a.String(4, ev.Project)
			a.String(5, ev.Service)
			a.String(6, ev.Environment)
			a.String(7, ev.Release)
			a.String(8, ev.Level)
			a.String(9, se.userKey)
			a.String(10, ev.TraceID)
			a.String(11, se.tags)
			a.String(12, se.json)
			if err = a.EndRow(); err != nil {
				break
			}
		}
		err = errors.Join(err, a.Close())
		s.errorBlocks = a.Blocks()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	return fresh, nil
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

// updateIssues applies new events to their issues (errtrack.ApplyEvent), in time order,
// and writes the issue rows, distinct users and release first-seen times.
func updateIssues(ctx context.Context, tx sqlRunner, fresh []storedEvent) error {
	ids := make([]string, 0, len(fresh))
	for _, se := range fresh {
		ids = append(ids, se.ev.GroupID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	existed, err := loadIssues(ctx, tx, ids)
	if err != nil {
		return err
	}
	issues := maps.Clone(existed)
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
	return upsertIssues(ctx, tx, out, existed)
}

func releaseScope(ev *errtrack.Event) string {
	if ev.Project != "" {
		return "project:" + ev.Project
	}
	return "service:" + ev.Service
}

func insertReleases(ctx context.Context, tx sqlRunner, fresh []storedEvent) error {
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
func insertUsers(ctx context.Context, tx sqlRunner, fresh []storedEvent) (map[string]int64, error) {
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
	first_release, last_release, releases, environments, last_event_id`

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

func loadIssues(ctx context.Context, tx sqlRunner, ids []string) (map[string]errtrack.Issue, error) {
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

// upsertIssues writes issues: an UPDATE of the existing ones (existed) and an INSERT of
// the new ones, each one statement per chunk.
func upsertIssues(ctx context.Context, tx sqlRunner, issues []errtrack.Issue, existed map[string]errtrack.Issue) error {
	var olds, news []errtrack.Issue
	for _, is := range issues {
		if _, ok := existed[is.ID]; ok {
			olds = append(olds, is)
		} else {
			news = append(news, is)
		}
	}
	for chunk := range slices.Chunk(news, errorsChunk) {
		const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args := make([]any, 0, 22*len(chunk))
		for _, is := range chunk {
			rel, env := jsonList(is.Releases), jsonList(is.Environments)
			args = append(args, is.ID, is.GroupingVersion, is.Fingerprint, is.Title, is.Culprit, is.Type, is.Level,
				is.Project, is.Service, is.Status, is.ResolvedInRelease, unixNanoOrZero(is.IgnoreUntil), is.IgnoreCount,
				is.FirstSeen.UnixNano(), is.LastSeen.UnixNano(), is.Events, is.Users, is.FirstRelease, is.LastRelease,
				rel, env, is.LastEventID)
		}
		query := "INSERT INTO error_issues VALUES " + strings.Repeat(row+", ", len(chunk)-1) + row
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("insert issues %s...: %w", chunk[0].ID, err)
		}
	}
	for chunk := range slices.Chunk(olds, errorsChunk) {
		// The columns an event can change (title, culprit, type, project and service stay
		// as the first event set them).
		const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args := make([]any, 0, 15*len(chunk))
		for _, is := range chunk {
			args = append(args, is.ID, is.Level, is.Status, is.ResolvedInRelease, unixNanoOrZero(is.IgnoreUntil),
				is.IgnoreCount, is.FirstSeen.UnixNano(), is.LastSeen.UnixNano(), is.Events, is.Users,
				is.FirstRelease, is.LastRelease, jsonList(is.Releases), jsonList(is.Environments), is.LastEventID)
		}
		query := `UPDATE error_issues SET level = v.level, status = v.status, resolved_in_release = v.rir,
	ignore_until_ns = v.iu, ignore_count = v.ic, first_seen_ns = v.fs, last_seen_ns = v.ls, events = v.ev,
	users = v.us, first_release = v.fr, last_release = v.lr, releases = v.rel, environments = v.env,
	last_event_id = v.le
FROM (VALUES ` + strings.Repeat(row+", ", len(chunk)-1) + row + `) AS v(id, level, status, rir, iu, ic, fs, ls, ev, us, fr, lr, rel, env, le)
WHERE error_issues.issue_id = v.id`
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("update issues %s...: %w", chunk[0].ID, err)
		}
	}
	return nil
}

func unixNanoOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// jsonList encodes a list of strings as a JSON array ("[]" for none).
func jsonList(l []string) string {
	b, _ := json.Marshal(nonNilList(l)) // strings always encode
	return string(b)
}

// jsonElement is how v appears as an element of a jsonList: contains(column, it) is an
// exact match, as every quote inside v is escaped.
func jsonElement(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
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
