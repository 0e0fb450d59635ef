// Package cherrors stores error events and issues in ClickHouse: the error tracking of the
// ClickHouse backend, implementing errtrack.Store (with errtrack.SeriesReader) and
// store.Retainer as the embedded backend does, and passing errtracktest.Test on chDB.
// Schema and the reasons for it in schema.go.
package cherrors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure the store.
type Options struct {
	// Retention, when > 0, sets error_events' TTL by event time: ClickHouse drops a day's
	// parts once all their events are older. The issues last seen before it go at the
	// next DropBefore (a TTL cannot delete by an aggregate).
	Retention time.Duration
}

// Store is the error store. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	logger *slog.Logger

	// writeMu serialises this process's writes, so that the lifecycle rules (which read
	// an issue's state and write the next one) see each other's results. Between nodes
	// there is no lock: see docs/scale-out.md, Errors.
	writeMu sync.Mutex
	mu      sync.Mutex
	last    int64 // the last version handed out by version()
}

var (
	_ errtrack.Store        = (*Store)(nil)
	_ errtrack.SeriesReader = (*Store)(nil)
	_ store.Retainer        = (*Store)(nil)
	_ store.Sizer           = (*Store)(nil)
)

// New migrates the errors schema of schema's database and returns the store. The store
// does not own conn.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations(schema), logger); err != nil {
		return nil, fmt.Errorf("cherrors: %w", err)
	}
	s := &Store{conn: conn, schema: schema, logger: logger}
	if err := s.setTTL(ctx, opts.Retention); err != nil {
		return nil, fmt.Errorf("cherrors: %w", err)
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// version is now in nanoseconds, strictly greater than any earlier version of this
// store: the version of a state row. Between nodes, versions are ordered by their clocks.
func (s *Store) version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(time.Now().UnixNano(), s.last+1)
	return uint64(s.last)
}

// eventCols are the columns WriteEvents fills, in row order.
var eventCols = []string{
	"issue_id", "ts_ns", "event_id", "received_ns", "project", "service", "environment", "release",
	"level", "user_key", "trace_id", "grouping_key", "grouping_version", "title", "culprit", "type",
	"tags", "event",
}

// WriteEvents stores events. See errtrack.Writer.
//
// The events already stored are left out (one look-up by id), then the new ones go in as
// one INSERT, which the views fold into the issue counters; then the lifecycle rules run
// for the issues of the batch that are resolved or ignored, writing their next state.
// Atomicity is ClickHouse's: one INSERT is one block per day of events, so a batch over
// several days that fails half-way may leave some days written; a retry then skips them
// (their ids are stored) and writes the rest.
func (s *Store) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	if len(events) == 0 {
		return nil
	}
	batch, err := normalise(events)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	stored, err := s.storedIDs(ctx, batch)
	if err != nil {
		return err
	}
	batch = slices.DeleteFunc(batch, func(ev *errtrack.Event) bool { return stored[ev.EventID] })
	if len(batch) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(batch))
	for _, ev := range batch {
		row, err := eventRow(ev)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	// The states are read before the insert: the lifecycle needs the state the events
	// found, and the release times of the batch are added from the batch itself.
	states, err := s.loadStates(ctx, issueIDs(batch))
	if err != nil {
		return err
	}
	if err := s.insertEvents(ctx, batch, rows); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := s.applyLifecycle(ctx, batch, states); err != nil {
		return fmt.Errorf("write events: events stored, issue status not updated: %w", err)
	}
	return nil
}

// eventRow is the error_events row of ev, in eventCols' order.
func eventRow(ev *errtrack.Event) ([]any, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("write event %s: encode: %w", ev.EventID, err)
	}
	typ := ""
	if n := len(ev.Exceptions); n > 0 {
		typ = ev.Exceptions[n-1].Type
	}
	return []any{
		ev.GroupID, ev.Timestamp.UnixNano(), ev.EventID, ev.Received.UnixNano(), ev.Project, ev.Service,
		ev.Environment, ev.Release, ev.Level, userKey(ev.User), ev.TraceID, ev.GroupingKey,
		uint16(errtrack.GroupingKeyVersion(ev.GroupingKey)), valid(errtrack.Title(ev)), valid(errtrack.Culprit(ev)),
		valid(typ), validMap(ev.Tags), string(body),
	}, nil
}

// normalise copies events, fills in missing times, checks ids and drops repeated ids.
func normalise(events []errtrack.Event) ([]*errtrack.Event, error) {
	out := make([]*errtrack.Event, 0, len(events))
	seen := make(map[string]bool, len(events))
	for i := range events {
		ev := events[i]
		if ev.EventID == "" || ev.GroupID == "" {
			return nil, fmt.Errorf("write events: event %d has no event id or group id", i)
		}
		if ev.Received.IsZero() {
			ev.Received = time.Now()
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = ev.Received
		}
		for _, p := range []*string{&ev.EventID, &ev.GroupID, &ev.GroupingKey, &ev.Project, &ev.Service,
			&ev.Environment, &ev.Release, &ev.Level, &ev.TraceID} {
			*p = valid(*p)
		}
		if seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		out = append(out, &ev)
	}
	return out, nil
}

// valid replaces invalid UTF-8, which ClickHouse's JSON output would not carry back.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func validMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[valid(k)] = valid(v)
	}
	return out
}

func issueIDs(batch []*errtrack.Event) []string {
	ids := make([]string, 0, len(batch))
	for _, ev := range batch {
		ids = append(ids, ev.GroupID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// lookupChunk is how many ids one look-up query carries.
const lookupChunk = 1000

// storedIDs returns which event ids of batch error_events holds.
func (s *Store) storedIDs(ctx context.Context, batch []*errtrack.Event) (map[string]bool, error) {
	stored := map[string]bool{}
	for chunk := range slices.Chunk(batch, lookupChunk) {
		ids := make([]string, len(chunk))
		for i, ev := range chunk {
			ids[i] = ev.EventID
		}
		err := s.scan(ctx, "SELECT DISTINCT event_id FROM "+s.schema.From(eventsTable)+" WHERE tenant = '' AND event_id IN "+inList(ids),
			func(r chsql.Rows) error {
				var id string
				if err := r.Scan(&id); err != nil {
					return err
				}
				stored[id] = true
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("look up event ids: %w", err)
		}
	}
	return stored, nil
}

// inList is a SQL list of string literals: ('a', 'b').
func inList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = chsql.String(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// scan runs query and calls f for each row.
func (s *Store) scan(ctx context.Context, query string, f func(chsql.Rows) error) error {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// state is the status part of an issue, as error_issue_state holds it.
type state struct {
	Status, ResolvedInRelease  string
	IgnoreUntilNs, IgnoreCount int64
}

// stateWinner selects each issue's latest state: issue_id, then a tuple of the state.
func (s *Store) stateWinner(cond string) string {
	q := "SELECT issue_id, argMax(tuple(status, resolved_in_release, ignore_until_ns, ignore_count), version) AS st FROM " +
		s.schema.From(stateTable) + " WHERE tenant = ''"
	if cond != "" {
		q += " AND " + cond
	}
	return q + " GROUP BY issue_id"
}

// loadStates returns the latest state of the issues ids that have one.
func (s *Store) loadStates(ctx context.Context, ids []string) (map[string]state, error) {
	out := map[string]state{}
	for chunk := range slices.Chunk(ids, lookupChunk) {
		q := "SELECT issue_id, st.1, st.2, st.3, st.4 FROM (" + s.stateWinner("issue_id IN "+inList(chunk)) + ")"
		err := s.scan(ctx, q, func(r chsql.Rows) error {
			var id string
			var st state
			if err := r.Scan(&id, &st.Status, &st.ResolvedInRelease, &st.IgnoreUntilNs, &st.IgnoreCount); err != nil {
				return err
			}
			out[id] = st
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load issue states: %w", err)
		}
	}
	return out, nil
}

// applyLifecycle applies the events of batch, in time order, to the states of their
// issues that are resolved or ignored (errtrack.ApplyEvent: the rules are errtrack's),
// and writes the states that changed. Unresolved issues need nothing: an event changes
// only their counters, which the views keep.
func (s *Store) applyLifecycle(ctx context.Context, batch []*errtrack.Event, states map[string]state) error {
	issues := map[string]errtrack.Issue{}
	for id, st := range states {
		if st.Status == errtrack.StatusResolved || st.Status == errtrack.StatusIgnored {
			issues[id] = st.issue(id)
		}
	}
	if len(issues) == 0 {
		return nil
	}
	sorted := slices.Clone(batch)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Timestamp.Before(sorted[j].Timestamp) })
	var lookupErr error
	releases := s.releaseInfo(ctx, batch, &lookupErr)
	for _, ev := range sorted {
		is, ok := issues[ev.GroupID]
		if !ok {
			continue
		}
		is, _ = errtrack.ApplyEvent(is, ev, releases(releaseScope(ev)))
		issues[ev.GroupID] = is
	}
	if lookupErr != nil {
		return lookupErr
	}
	var rows [][]any
	v := s.version()
	for _, id := range slices.Sorted(maps.Keys(issues)) {
		next := stateOf(issues[id])
		if next != states[id] {
			rows = append(rows, []any{id, v, next.Status, next.ResolvedInRelease, next.IgnoreUntilNs, next.IgnoreCount})
		}
	}
	return s.insertStates(ctx, rows)
}

var stateCols = []string{"issue_id", "version", "status", "resolved_in_release", "ignore_until_ns", "ignore_count"}

func (s *Store) insertStates(ctx context.Context, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if err := s.conn.Insert(ctx, s.schema.Database+"."+stateTable, stateCols, rows); err != nil {
		return fmt.Errorf("write issue states: %w", err)
	}
	return nil
}

// issue is an issue carrying only st, enough for errtrack.ApplyEvent's status rules (its
// ID is set, so ApplyEvent does not take it for a new issue).
func (st state) issue(id string) errtrack.Issue {
	is := errtrack.Issue{ID: id, Status: st.Status, ResolvedInRelease: st.ResolvedInRelease, IgnoreCount: st.IgnoreCount}
	if st.Status == "" {
		is.Status = errtrack.StatusUnresolved
	}
	if st.IgnoreUntilNs != 0 {
		is.IgnoreUntil = time.Unix(0, st.IgnoreUntilNs).UTC()
	}
	return is
}

func stateOf(is errtrack.Issue) state {
	st := state{Status: is.Status, ResolvedInRelease: is.ResolvedInRelease, IgnoreCount: is.IgnoreCount}
	if !is.IgnoreUntil.IsZero() {
		st.IgnoreUntilNs = is.IgnoreUntil.UnixNano()
	}
	return st
}

func releaseScope(ev *errtrack.Event) string {
	if ev.Project != "" {
		return "project:" + ev.Project
	}
	return "service:" + ev.Service
}

// releaseInfo returns, per scope, when a release was first seen: the earlier of
// error_releases (which the batch just inserted is in, on a single server) and the
// batch's own events. Looked up only when a rule asks (a resolved issue and releases that
// are not semantic versions). A failed look-up is kept in *errp: the caller must not write
// states decided without it.
func (s *Store) releaseInfo(ctx context.Context, batch []*errtrack.Event, errp *error) func(scope string) errtrack.ReleaseInfo {
	return func(scope string) errtrack.ReleaseInfo {
		return func(release string) (time.Time, bool) {
			var best int64
			found := false
			for _, ev := range batch {
				if ev.Release == release && releaseScope(ev) == scope {
					if ns := ev.Timestamp.UnixNano(); !found || ns < best {
						best, found = ns, true
					}
				}
			}
			err := s.scan(ctx, "SELECT toInt64(min(first_seen)), count() FROM "+s.schema.From(releasesTable)+" WHERE tenant = '' AND scope = "+
				chsql.String(scope)+" AND release = "+chsql.String(release), func(r chsql.Rows) error {
				var ns int64
				var n uint64
				if err := r.Scan(&ns, &n); err != nil {
					return err
				}
				if n > 0 && (!found || ns < best) {
					best, found = ns, true
				}
				return nil
			})
			if err != nil && *errp == nil {
				*errp = fmt.Errorf("release %q first seen: %w", release, err)
			}
			return time.Unix(0, best).UTC(), found
		}
	}
}

// userKey identifies a user for the distinct-users count: the id, else the e-mail, the
// user name or the IP address (as the embedded store).
func userKey(u *errtrack.User) string {
	switch {
	case u == nil:
		return ""
	case u.ID != "":
		return valid("id:" + u.ID)
	case u.Email != "":
		return valid("email:" + u.Email)
	case u.Username != "":
		return valid("username:" + u.Username)
	case u.IPAddress != "":
		return valid("ip:" + u.IPAddress)
	}
	return ""
}

// SetStatus changes an issue's status: a new state row, which wins over the older ones
// by its version. See errtrack.Store.
func (s *Store) SetStatus(ctx context.Context, id string, change errtrack.StatusChange) (errtrack.Issue, error) {
	if err := change.Validate(); err != nil {
		return errtrack.Issue{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	is, err := s.GetIssue(ctx, id)
	if err != nil {
		return errtrack.Issue{}, err
	}
	if is, err = errtrack.ApplyStatus(is, change); err != nil {
		return errtrack.Issue{}, err
	}
	st := stateOf(is)
	err = s.insertStates(ctx, [][]any{{id, s.version(), st.Status, st.ResolvedInRelease, st.IgnoreUntilNs, st.IgnoreCount}})
	if err != nil {
		return errtrack.Issue{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	return is, nil
}

// insertEvents inserts the rows of batch with an insert_deduplication_token made of their
// ids: when two writers found the same events unstored at once (a client's retry taken
// by two nodes), ClickHouse keeps the first insert and drops the second, in the events
// and in the views (deduplicate_blocks_in_dependent_materialized_views), so the counters
// count them once. Batches that overlap without being equal are not caught: their
// duplicate events are merged away in error_events, but counted twice by the views.
// The statement is rendered as text (chsql.InsertValues) because Conn.Insert carries no
// settings.
func (s *Store) insertEvents(ctx context.Context, batch []*errtrack.Event, rows [][]any) error {
	ids := make([]string, len(batch))
	for i, ev := range batch {
		ids[i] = ev.EventID
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	q, err := chsql.InsertValues(s.schema.Database+"."+eventsTable, eventCols, rows)
	if err != nil {
		return err
	}
	head, values, ok := strings.Cut(q, ") VALUES ")
	if !ok {
		return fmt.Errorf("unexpected INSERT text")
	}
	return s.conn.Exec(ctx, head+") SETTINGS insert_deduplication_token = "+chsql.String("events/"+hex.EncodeToString(sum[:]))+
		", deduplicate_blocks_in_dependent_materialized_views = 1 VALUES "+values)
}
