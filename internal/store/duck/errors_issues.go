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

// The issue rows of the error store (error_issues, with error_issue_users and
// error_releases; schema in errors.go): applying a batch of new events to them inside
// WriteEvents' transaction, reading them back, and status changes.

// issueWrites is what a batch wrote to the issue tables, for errorState once committed.
type issueWrites struct {
	issues   []errtrack.Issue
	users    []userPair
	releases map[releaseKey]int64
}

// updateIssues applies new events to their issues (errtrack.ApplyEvent), in time order,
// and writes the issue rows, the new (issue, user) pairs and the release first-seen
// times (batchReleases). The issues and pairs already stored come from s.errState.
func (s *Store) updateIssues(ctx context.Context, conn *sql.Conn, fresh []storedEvent) (issueWrites, error) {
	ids := make([]string, 0, len(fresh))
	for _, se := range fresh {
		ids = append(ids, se.ev.GroupID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	existed, err := s.errState.cachedIssues(ctx, conn, ids)
	if err != nil {
		return issueWrites{}, err
	}
	w := issueWrites{releases: batchReleases(fresh, s.errState.releases)}
	if err := insertReleases(ctx, conn, w.releases); err != nil {
		return issueWrites{}, err
	}
	if w.users, err = s.errState.users.newPairs(ctx, conn, fresh); err != nil {
		return issueWrites{}, err
	}
	if err := appendUsers(conn, w.users); err != nil {
		return issueWrites{}, err
	}
	releaseInfo := func(scope string) errtrack.ReleaseInfo {
		return func(release string) (time.Time, bool) {
			var ns int64
			err := conn.QueryRowContext(ctx, "SELECT first_seen_ns FROM error_releases WHERE scope = ? AND release = ?",
				scope, release).Scan(&ns)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(0, ns).UTC(), true
		}
	}
	issues := maps.Clone(existed)
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].ev.Timestamp.Before(fresh[j].ev.Timestamp) })
	for _, se := range fresh {
		is := issues[se.ev.GroupID]
		is, _ = errtrack.ApplyEvent(is, se.ev, releaseInfo(releaseScope(se.ev)))
		issues[se.ev.GroupID] = is
	}
	for _, p := range w.users {
		is := issues[p.issue]
		is.Users++
		issues[p.issue] = is
	}
	w.issues = make([]errtrack.Issue, 0, len(ids))
	for _, id := range ids {
		w.issues = append(w.issues, issues[id])
	}
	if err := upsertIssues(ctx, conn, w.issues, existed); err != nil {
		return issueWrites{}, err
	}
	return w, nil
}

// remember records what a committed batch wrote.
func (e *errorState) remember(w issueWrites) {
	e.rememberReleases(w.releases)
	e.rememberIssues(w.issues)
	pairs := make(map[userPair]bool, len(w.users))
	for _, p := range w.users {
		pairs[p] = true
	}
	e.users.remember(pairs)
}

func releaseScope(ev *errtrack.Event) string {
	if ev.Project != "" {
		return "project:" + ev.Project
	}
	return "service:" + ev.Service
}

// releaseKey is a release in its scope (releaseScope): the key of error_releases.
type releaseKey struct{ scope, release string }

// maxKnownReleases bounds errorState.releases; releases past it are written with every
// batch that carries them, as all were before the cache.
const maxKnownReleases = 10_000

// batchReleases returns the earliest time of each release of the batch, leaving out the
// releases that known (what this process committed to error_releases) holds with that
// time or an earlier one, whose rows the batch would not change. So most batches write no
// release: the INSERT ... ON CONFLICT was a quarter of a one-event transaction's CPU
// (BenchmarkRecord/batch=1).
func batchReleases(fresh []storedEvent, known map[releaseKey]int64) map[releaseKey]int64 {
	first := map[releaseKey]int64{}
	for _, se := range fresh {
		if se.ev.Release == "" {
			continue
		}
		k := releaseKey{releaseScope(se.ev), se.ev.Release}
		ns := se.ev.Timestamp.UnixNano()
		if old, ok := known[k]; ok && old <= ns {
			continue
		}
		if old, ok := first[k]; !ok || ns < old {
			first[k] = ns
		}
	}
	return first
}

// rememberReleases adds the release times a committed batch wrote to e.releases.
// error_releases then holds each at that time or earlier (rows are only ever lowered,
// never deleted), which is all batchReleases relies on.
func (e *errorState) rememberReleases(written map[releaseKey]int64) {
	if e.releases == nil {
		e.releases = make(map[releaseKey]int64, len(written))
	}
	for k, ns := range written {
		if _, ok := e.releases[k]; ok || len(e.releases) < maxKnownReleases {
			e.releases[k] = ns
		}
	}
}

// insertReleases records the first-seen time of releases, keeping the earlier time of a
// release already there.
func insertReleases(ctx context.Context, tx sqlRunner, first map[releaseKey]int64) error {
	if len(first) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(first))
	for k, ns := range first {
		args = append(args, k.scope, k.release, ns)
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO error_releases VALUES "+placeholderRows(len(first), 3)+`
ON CONFLICT (scope, release) DO UPDATE SET first_seen_ns = least(error_releases.first_seen_ns, excluded.first_seen_ns)`, args...)
	if err != nil {
		return fmt.Errorf("record releases: %w", err)
	}
	return nil
}

// appendUsers appends new (issue, user) pairs to error_issue_users.
func appendUsers(conn *sql.Conn, pairs []userPair) error {
	if len(pairs) == 0 {
		return nil
	}
	err := conn.Raw(func(dc any) error {
		a, err := newChunkAppender(dc.(driver.Conn), "error_issue_users", []mapping.Type{mapping.TypeVarchar, mapping.TypeVarchar}, nil)
		if err != nil {
			return err
		}
		for _, p := range pairs {
			a.String(0, p.issue)
			a.String(1, p.user)
			if err = a.EndRow(); err != nil {
				break
			}
		}
		return errors.Join(err, a.Close())
	})
	if err != nil {
		return fmt.Errorf("record users: %w", err)
	}
	return nil
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
		rows, err := tx.QueryContext(ctx, "SELECT "+issueColumns+" FROM error_issues WHERE issue_id IN "+
			placeholderRows(1, len(chunk)), args...)
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
		// Close does not report an error that ended the iteration: Err does.
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("load issues: %w", err)
		}
	}
	return out, nil
}

// issueUpdates are the columns of error_issues that an event can change, with their
// values (title, culprit, type, project and service stay as the first event set them).
var issueUpdates = []struct {
	col string
	val func(*errtrack.Issue) any
}{
	{"level", func(is *errtrack.Issue) any { return is.Level }},
	{"status", func(is *errtrack.Issue) any { return is.Status }},
	{"resolved_in_release", func(is *errtrack.Issue) any { return is.ResolvedInRelease }},
	{"ignore_until_ns", func(is *errtrack.Issue) any { return unixNanoOrZero(is.IgnoreUntil) }},
	{"ignore_count", func(is *errtrack.Issue) any { return is.IgnoreCount }},
	{"first_seen_ns", func(is *errtrack.Issue) any { return is.FirstSeen.UnixNano() }},
	{"last_seen_ns", func(is *errtrack.Issue) any { return is.LastSeen.UnixNano() }},
	{"events", func(is *errtrack.Issue) any { return is.Events }},
	{"users", func(is *errtrack.Issue) any { return is.Users }},
	{"first_release", func(is *errtrack.Issue) any { return is.FirstRelease }},
	{"last_release", func(is *errtrack.Issue) any { return is.LastRelease }},
	{"releases", func(is *errtrack.Issue) any { return jsonList(is.Releases) }},
	{"environments", func(is *errtrack.Issue) any { return jsonList(is.Environments) }},
	{"last_event_id", func(is *errtrack.Issue) any { return is.LastEventID }},
}

// upsertIssues writes issues: an INSERT of the new ones and an UPDATE ... FROM (VALUES ...)
// of the existing ones (existed holds their stored rows), each one statement per chunk.
// The UPDATE sets only the columns that some issue of the chunk changed, usually events,
// last_seen_ns and last_event_id: each column set costs DuckDB about as much as the
// rest of the statement (a probe updating 20 issues in a transaction, 2 shared cores:
// ~5 ms of CPU for all 14 columns, ~2.6 ms for 3).
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
		args := make([]any, 0, 22*len(chunk))
		for _, is := range chunk {
			rel, env := jsonList(is.Releases), jsonList(is.Environments)
			args = append(args, is.ID, is.GroupingVersion, is.Fingerprint, is.Title, is.Culprit, is.Type, is.Level,
				is.Project, is.Service, is.Status, is.ResolvedInRelease, unixNanoOrZero(is.IgnoreUntil), is.IgnoreCount,
				is.FirstSeen.UnixNano(), is.LastSeen.UnixNano(), is.Events, is.Users, is.FirstRelease, is.LastRelease,
				rel, env, is.LastEventID)
		}
		query := "INSERT INTO error_issues VALUES " + placeholderRows(len(chunk), 22)
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("insert issues %s...: %w", chunk[0].ID, err)
		}
	}
	for chunk := range slices.Chunk(olds, errorsChunk) {
		var cols []int // indexes into issueUpdates
		for c, u := range issueUpdates {
			if slices.ContainsFunc(chunk, func(is errtrack.Issue) bool { old := existed[is.ID]; return u.val(&is) != u.val(&old) }) {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			continue
		}
		args := make([]any, 0, (len(cols)+1)*len(chunk))
		for _, is := range chunk {
			args = append(args, is.ID)
			for _, c := range cols {
				args = append(args, issueUpdates[c].val(&is))
			}
		}
		set, names := make([]string, len(cols)), make([]string, len(cols))
		for i, c := range cols {
			set[i] = issueUpdates[c].col + " = v." + issueUpdates[c].col
			names[i] = issueUpdates[c].col
		}
		query := "UPDATE error_issues SET " + strings.Join(set, ", ") + " FROM (VALUES " +
			placeholderRows(len(chunk), len(cols)+1) + ") AS v(id, " + strings.Join(names, ", ") + ") WHERE error_issues.issue_id = v.id"
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
	// The events acknowledged before the change apply before it.
	if err := s.flushLog(ctx); err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	issues, err := s.errState.cachedIssues(ctx, tx, []string{id})
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
	_, err = tx.ExecContext(ctx, `UPDATE error_issues SET status = ?, resolved_in_release = ?, ignore_until_ns = ?,
		ignore_count = ? WHERE issue_id = ?`, is.Status, is.ResolvedInRelease, unixNanoOrZero(is.IgnoreUntil), is.IgnoreCount, id)
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: commit: %w", err)
	}
	s.errState.rememberIssues([]errtrack.Issue{is})
	return is, nil
}
