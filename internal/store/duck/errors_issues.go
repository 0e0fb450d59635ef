package duck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The issue rows of the error store (error_issues, with error_issue_users and
// error_releases; schema in errors.go): applying a batch of new events to them inside
// WriteEvents' transaction, reading them back, and status changes.

// updateIssues applies new events to their issues (errtrack.ApplyEvent), in time order,
// and writes the issue rows, distinct users and the release first-seen times of releases
// (batchReleases).
func updateIssues(ctx context.Context, tx sqlRunner, fresh []storedEvent, releases map[releaseKey]int64) error {
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
	if err := insertReleases(ctx, tx, releases); err != nil {
		return err
	}
	newUsers, err := insertUsers(ctx, tx, fresh)
	if err != nil {
		return err
	}
	releaseInfo := func(scope string) errtrack.ReleaseInfo {
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
		is, _ = errtrack.ApplyEvent(is, se.ev, releaseInfo(releaseScope(se.ev)))
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

// releaseKey is a release in its scope (releaseScope): the key of error_releases.
type releaseKey struct{ scope, release string }

// maxKnownReleases bounds Store.knownReleases; releases past it are written with every
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

// rememberReleases adds the release times a committed batch wrote to s.knownReleases.
// error_releases then holds each at that time or earlier (rows are only ever lowered,
// never deleted), which is all batchReleases relies on. Call with errorsMu held.
func (s *Store) rememberReleases(written map[releaseKey]int64) {
	if s.knownReleases == nil {
		s.knownReleases = make(map[releaseKey]int64, len(written))
	}
	for k, ns := range written {
		if _, ok := s.knownReleases[k]; ok || len(s.knownReleases) < maxKnownReleases {
			s.knownReleases[k] = ns
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
		ids, err := queryStrings(ctx, tx, "INSERT INTO error_issue_users VALUES "+placeholderRows(len(chunk), 2)+
			" ON CONFLICT DO NOTHING RETURNING issue_id", args...)
		if err != nil {
			return nil, fmt.Errorf("record users: %w", err)
		}
		for _, id := range ids {
			out[id]++
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
		// The columns an event can change (title, culprit, type, project and service stay
		// as the first event set them).
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
FROM (VALUES ` + placeholderRows(len(chunk), 15) + `) AS v(id, level, status, rir, iu, ic, fs, ls, ev, us, fr, lr, rel, env, le)
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
	_, err = tx.ExecContext(ctx, `UPDATE error_issues SET status = ?, resolved_in_release = ?, ignore_until_ns = ?,
		ignore_count = ? WHERE issue_id = ?`, is.Status, is.ResolvedInRelease, unixNanoOrZero(is.IgnoreUntil), is.IgnoreCount, id)
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status: commit: %w", err)
	}
	return is, nil
}
