package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//     scrubbing, compressed with zstd (errors_codec.go). Stored as text, the JSON was
//     compressed by DuckDB's checkpoint with FSST, which took more CPU than the rest of
//     the write path: 0.7-1.3 ms per 15 KB Python event (5,000 events, one CHECKPOINT);
//     compressed in Go it is ~2 KB in ~20 µs. Rows go in through the chunk appender
//     (chunkappend.go); a stored id fails the append (primary key), see writeEvents.
//   - error_issues: one row per issue with its counters, kept up to date in the same
//     transaction as the events, so that the issue list never scans events. Releases and
//     environments are JSON arrays of strings (filtered by their JSON-encoded element,
//     jsonElement). Existing issues are changed with one UPDATE ... FROM (VALUES ...)
//     per batch, new ones inserted.
//   - error_issue_users: the distinct users of each issue, for the Users counter.
//   - error_releases: when each release was first seen per project (or service), for
//     ordering releases that are not semantic versions (errtrack.ReleaseNewer).
//
// WriteEvents commits events to the event log (errors_log.go), a file of their own, and
// the log goes to DuckDB in batches of up to 1,000 events, and before every read. Each such
// batch is one transaction: append the events, then update their issues from the rows the
// store remembers it committed (errorState, errors_cache.go). Every statement costs DuckDB
// about a millisecond of CPU, so the write path runs as few as it can: usually the
// append, one UPDATE and the commit.
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
	event BLOB NOT NULL
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

// errorsChunk is how many rows one statement of the write path carries (id look-ups,
// user and issue inserts, issue updates).
const errorsChunk = 100

// initErrors creates the error tables. Called once by Open. A database written before
// events were compressed has event VARCHAR: it becomes a BLOB of the same JSON bytes,
// which decodeEventBody reads as it is.
func initErrors(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, errorsDDL); err != nil {
		return fmt.Errorf("create error tables: %w", err)
	}
	var typ string
	err := db.QueryRowContext(ctx, `SELECT data_type FROM duckdb_columns()
		WHERE schema_name = 'main' AND table_name = 'error_events' AND column_name = 'event'`).Scan(&typ)
	if err != nil {
		return fmt.Errorf("type of error_events.event: %w", err)
	}
	if typ == "VARCHAR" {
		if _, err := db.ExecContext(ctx, "ALTER TABLE error_events ALTER COLUMN event TYPE BLOB USING encode(event)"); err != nil {
			return fmt.Errorf("error_events.event to BLOB: %w", err)
		}
	}
	return nil
}

// storedEvent is an event with its columns encoded before the transaction.
type storedEvent struct {
	ev      *errtrack.Event
	body    []byte // encodeEventBody
	tags    string
	userKey string
}

// WriteEvents stores events. See errtrack.Writer. They are committed once in the event
// log (errors_log.go), which is written to DuckDB (events and issue updates in one
// transaction) in batches and before every read.
func (s *Store) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	if len(events) == 0 {
		return nil
	}
	batch, err := encodeEvents(events)
	if err != nil {
		return err
	}
	// Writers are serialised: two transactions updating one issue row would conflict.
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	if err := s.guard.check(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := s.replayLog(); err != nil {
		return err
	}
	if err := s.logEvents(batch); err != nil {
		return err
	}
	if s.errState.log.flushDue() {
		if err := s.flushLog(ctx); err != nil {
			// The events are safe in the log; the next write or read tries again.
			s.logger.Warn("error events stay in the event log: the database refused them", "err", err)
		}
	}
	return nil
}

// writeEvents writes batch to DuckDB in one transaction. The first attempt does not look
// the ids up: a retried event is rare, and the primary key refuses its row, which fails
// the transaction (look-up: ~0.6-1.5 ms of CPU a batch). The second looks them up and
// skips the stored ones; an error that was not a duplicate fails it again.
func (s *Store) writeEvents(ctx context.Context, batch []storedEvent) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write events: connection: %w", err)
	}
	defer conn.Close()
	err = s.writeEventsTx(ctx, conn, batch, false)
	if err != nil && ctx.Err() == nil {
		err = s.writeEventsTx(ctx, conn, batch, true)
	}
	return err
}

// encodeEvents encodes the columns of events, leaving out repeated ids.
func encodeEvents(events []errtrack.Event) ([]storedEvent, error) {
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
			return nil, fmt.Errorf("write events: event %d has no event id or group id", i)
		}
		validStrings(ev)
		if seen[ev.EventID] {
			continue // a repeated id in one batch is a duplicate too
		}
		seen[ev.EventID] = true
		body, err := encodeEventBody(ev)
		if err != nil {
			return nil, fmt.Errorf("write event %s: %w", ev.EventID, err)
		}
		tags, err := json.Marshal(nonNilTags(ev.Tags))
		if err != nil {
			return nil, fmt.Errorf("write event %s: encode tags: %w", ev.EventID, err)
		}
		key := userKey(ev.User)
		fixUTF8(&key)
		batch = append(batch, storedEvent{ev: ev, body: body, tags: string(tags), userKey: key})
	}
	return batch, nil
}

// writeEventsTx writes batch in one transaction on conn, leaving out the events already
// stored when lookup is set (otherwise one of them fails the transaction).
func (s *Store) writeEventsTx(ctx context.Context, conn *sql.Conn, batch []storedEvent, lookup bool) error {
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
	fresh := batch
	if lookup {
		var err error
		if fresh, err = unstoredEvents(ctx, conn, batch); err != nil {
			return err
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := s.appendEvents(conn, fresh); err != nil {
		return err
	}
	w, err := s.updateIssues(ctx, conn, fresh)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("write events: commit: %w", err)
	}
	committed = true
	s.errState.remember(w)
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
	mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeVarchar, mapping.TypeBlob,
}

// unstoredEvents returns the events of batch whose id error_events does not hold.
func unstoredEvents(ctx context.Context, tx sqlRunner, batch []storedEvent) ([]storedEvent, error) {
	stored := map[string]bool{}
	for chunk := range slices.Chunk(batch, errorsChunk) {
		args := make([]any, len(chunk))
		for i, se := range chunk {
			args[i] = se.ev.EventID
		}
		ids, err := queryStrings(ctx, tx, "SELECT event_id FROM error_events WHERE event_id IN "+
			placeholderRows(1, len(chunk)), args...)
		if err != nil {
			return nil, fmt.Errorf("look up event ids: %w", err)
		}
		for _, id := range ids {
			stored[id] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(batch), func(se storedEvent) bool { return stored[se.ev.EventID] }), nil
}

// appendEvents appends events to error_events.
func (s *Store) appendEvents(conn *sql.Conn, events []storedEvent) error {
	err := conn.Raw(func(dc any) error {
		a, err := newChunkAppender(dc.(driver.Conn), "error_events", errorEventTypes, s.errState.blocks)
		if err != nil {
			return err
		}
		for _, se := range events {
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
			a.Bytes(12, se.body)
			if err = a.EndRow(); err != nil {
				break
			}
		}
		err = errors.Join(err, a.Close())
		s.errState.blocks = a.Blocks()
		return err
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
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

// dropErrorsBefore deletes the events that happened before cutoff and the issues whose
// last event is older. The counters of the remaining issues keep counting the deleted
// events (as Sentry's do): they say how often the issue happened since it was first seen.
func (s *Store) dropErrorsBefore(ctx context.Context, cutoff time.Time) error {
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	if err := s.flushLog(ctx); err != nil {
		return fmt.Errorf("retention of error events: %w", err)
	}
	ns := cutoff.UnixNano()
	res, err := s.db.ExecContext(ctx, "DELETE FROM error_events WHERE ts_ns < ?", ns)
	if err != nil {
		return fmt.Errorf("delete error events: %w", err)
	}
	events, _ := res.RowsAffected()
	res, err = s.db.ExecContext(ctx, "DELETE FROM error_issues WHERE last_seen_ns < ?", ns)
	if err != nil {
		s.errState.forget()
		return fmt.Errorf("delete issues: %w", err)
	}
	issues, _ := res.RowsAffected()
	if issues > 0 {
		s.errState.forget() // the cached rows of deleted issues and their users
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
