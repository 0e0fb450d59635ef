package duck

import (
	"context"
	"fmt"
	"slices"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// errorState is what the error write path remembers between batches of the rows it
// committed, so that a batch neither reads them back nor asks DuckDB whether a row
// exists: in DuckDB every statement costs about a millisecond of CPU however small, and
// INSERT ... ON CONFLICT runs as a MERGE with a hash aggregate and a join (loading the
// batch's issues and recording its users were a quarter of a one-event transaction's
// CPU, pprof of BenchmarkRecord/batch=1). Guarded by Store.errorsMu, like every write to
// the error tables; each part is only ever filled with rows that are committed, after
// the commit, so a transaction that fails leaves it true.
type errorState struct {
	// blocks are the string blocks of the events appender, reused from batch to batch.
	blocks [][]byte
	// releases are the release first-seen times committed to error_releases
	// (batchReleases).
	releases map[releaseKey]int64
	// issues are error_issues rows as committed, by id: the issues that batches touched,
	// at most maxCachedIssues.
	issues map[string]errtrack.Issue
	users  userPairs
	// log holds the events acknowledged and not yet written to DuckDB (errors_log.go).
	log eventLog
}

// maxCachedIssues bounds errorState.issues (an issue is a few hundred bytes); batches
// read the issues not cached with one look-up on the primary key.
const maxCachedIssues = 10_000

// cachedIssues returns the committed rows of the issues ids, from the cache or else from
// tx. Issues that do not exist yet are absent from the result.
func (e *errorState) cachedIssues(ctx context.Context, tx sqlRunner, ids []string) (map[string]errtrack.Issue, error) {
	out := make(map[string]errtrack.Issue, len(ids))
	var missing []string
	for _, id := range ids {
		if is, ok := e.issues[id]; ok {
			out[id] = is
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := loadIssues(ctx, tx, missing)
	if err != nil {
		return nil, err
	}
	for id, is := range loaded {
		out[id] = is
	}
	return out, nil
}

// rememberIssues caches issue rows just committed, dropping arbitrary others (Go's map
// order) beyond maxCachedIssues.
func (e *errorState) rememberIssues(issues []errtrack.Issue) {
	if e.issues == nil {
		e.issues = make(map[string]errtrack.Issue, len(issues))
	}
	for _, is := range issues {
		e.issues[is.ID] = is
	}
	for id := range e.issues {
		if len(e.issues) <= maxCachedIssues {
			break
		}
		delete(e.issues, id)
	}
}

// userPairs remembers which (issue, user) pairs error_issue_users holds, to count each
// user of an issue once without asking DuckDB about the pairs it already knows. While the
// table has at most maxKnownUserPairs rows, known holds all of them (complete) and a pair
// missing from it is new; past that it holds the pairs seen lately, and a batch looks the
// others up.
type userPairs struct {
	known    map[userPair]struct{}
	loaded   bool // the table was read once (complete or not)
	complete bool // known is every row of error_issue_users
}

type userPair struct{ issue, user string }

// maxKnownUserPairs bounds userPairs.known (about 100 bytes a pair).
const maxKnownUserPairs = 100_000

// newPairs returns the (issue, user) pairs of fresh events that error_issue_users does not
// hold yet, in a stable order.
func (u *userPairs) newPairs(ctx context.Context, tx sqlRunner, fresh []storedEvent) ([]userPair, error) {
	var unknown []userPair
	seen := map[userPair]bool{}
	for _, se := range fresh {
		p := userPair{se.ev.GroupID, se.userKey}
		if p.user == "" || seen[p] {
			continue
		}
		seen[p] = true
		if _, ok := u.known[p]; !ok {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) == 0 {
		return nil, nil
	}
	if !u.loaded {
		if err := u.load(ctx, tx); err != nil {
			return nil, err
		}
		unknown = slices.DeleteFunc(unknown, func(p userPair) bool { _, ok := u.known[p]; return ok })
	}
	if u.complete || len(unknown) == 0 {
		return unknown, nil
	}
	stored, err := storedPairs(ctx, tx, unknown)
	if err != nil {
		return nil, err
	}
	u.remember(stored) // committed rows: true whatever becomes of this transaction
	return slices.DeleteFunc(unknown, func(p userPair) bool { return stored[p] }), nil
}

// load reads error_issue_users whole when it is small enough to be known completely.
func (u *userPairs) load(ctx context.Context, tx sqlRunner) error {
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM error_issue_users").Scan(&n); err != nil {
		return fmt.Errorf("count issue users: %w", err)
	}
	u.loaded = true
	if n > maxKnownUserPairs {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT issue_id, user_key FROM error_issue_users")
	if err != nil {
		return fmt.Errorf("load issue users: %w", err)
	}
	defer rows.Close()
	u.known = make(map[userPair]struct{}, n)
	for rows.Next() {
		var p userPair
		if err := rows.Scan(&p.issue, &p.user); err != nil {
			return fmt.Errorf("load issue users: %w", err)
		}
		u.known[p] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load issue users: %w", err)
	}
	u.complete = true
	return nil
}

// storedPairs returns which of pairs error_issue_users holds. The table's key has two
// columns, which DuckDB does not look up by index: this scans it.
func storedPairs(ctx context.Context, tx sqlRunner, pairs []userPair) (map[userPair]bool, error) {
	out := map[userPair]bool{}
	for chunk := range slices.Chunk(pairs, errorsChunk) {
		want := make(map[userPair]bool, len(chunk))
		args := make([]any, 0, 2*len(chunk))
		for _, p := range chunk {
			want[p] = true
			args = append(args, p.issue)
		}
		for _, p := range chunk {
			args = append(args, p.user)
		}
		rows, err := tx.QueryContext(ctx, "SELECT issue_id, user_key FROM error_issue_users WHERE issue_id IN "+
			placeholderRows(1, len(chunk))+" AND user_key IN "+placeholderRows(1, len(chunk)), args...)
		if err != nil {
			return nil, fmt.Errorf("look up issue users: %w", err)
		}
		for rows.Next() {
			var p userPair
			if err := rows.Scan(&p.issue, &p.user); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up issue users: %w", err)
			}
			if want[p] {
				out[p] = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up issue users: %w", err)
		}
	}
	return out, nil
}

// remember adds committed pairs. Past maxKnownUserPairs it forgets them all and stops
// being complete: batches then look up the pairs they do not know.
func (u *userPairs) remember(pairs map[userPair]bool) {
	if u.known == nil {
		u.known = make(map[userPair]struct{}, len(pairs))
	}
	for p := range pairs {
		u.known[p] = struct{}{}
	}
	if len(u.known) > maxKnownUserPairs {
		u.known, u.complete = nil, false
	}
}

// forget drops what retention may have deleted: issues and their users.
func (e *errorState) forget() {
	e.issues = nil
	e.users = userPairs{}
}
