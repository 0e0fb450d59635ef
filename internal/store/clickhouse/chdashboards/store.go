// Package chdashboards stores dashboards in ClickHouse: the dashboards.Store of the
// ClickHouse backend, passing storetest.RunDashboards on chDB. Several Loupe nodes may
// write the same dashboards at once: how a stale version is refused without transactions
// is in schema.go and docs/scale-out.md.
package chdashboards

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Store is the dashboards store. It keeps no state of its own: any number of stores, on
// any number of nodes, may share one database. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	logger *slog.Logger
}

var _ dashboards.Store = (*Store)(nil)

// New migrates the dashboards schema of schema's database and returns the store. The
// store does not own conn: Close leaves it open.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations(schema), logger); err != nil {
		return nil, fmt.Errorf("chdashboards: %w", err)
	}
	return &Store{conn: conn, schema: schema, logger: logger}, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// readSettings make a read on a cluster see every insert acknowledged with insert_quorum
// (writeSettings), whichever replica answers: the version check must see the latest save.
func (s *Store) readSettings() string {
	if s.schema.Cluster == "" {
		return ""
	}
	return " SETTINGS select_sequential_consistency = 1"
}

// head is a dashboard's row of highest seq: its current version, or its tombstone.
type head struct {
	seq, base uint64
	deleted   bool
}

// exists reports whether the head is a saved dashboard (not nothing, not a tombstone).
func (h head) exists() bool { return h.seq != 0 && !h.deleted }

// version is the version the API shows of the head's dashboard.
func (h head) version() int64 { return int64(h.seq - h.base + 1) }

// uidCond selects the rows of uid.
func uidCond(uid string) string { return "tenant = '' AND uid = " + chsql.String(uid) }

// head reads the head of uid; a zero head when the uid was never saved. Of two rows of
// one seq (see schema.go), the greatest writer token is the one every reader takes.
func (s *Store) head(ctx context.Context, uid string, extra string, dest ...any) (head, bool, error) {
	var h head
	rows, err := s.conn.Query(ctx, "SELECT seq, base, deleted"+extra+" FROM "+s.schema.From(table)+" WHERE "+uidCond(uid)+
		" ORDER BY seq DESC, writer DESC LIMIT 1"+s.readSettings())
	if err != nil {
		return h, false, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		if err := rows.Scan(append([]any{&h.seq, &h.base, &h.deleted}, dest...)...); err != nil {
			return h, false, err
		}
		found = true
	}
	return h, found, rows.Err()
}

// List implements dashboards.Store. Dashboards are few: they are filtered and sorted here.
func (s *Store) List(ctx context.Context, f dashboards.Filter) ([]dashboards.Summary, error) {
	rows, err := s.conn.Query(ctx, "SELECT uid, w.1, w.2, w.3, w.4, w.5 FROM (SELECT uid, "+
		"argMax(tuple(deleted, title, tags, toInt64(seq - base + 1), updated_ns), (seq, writer)) AS w FROM "+s.schema.From(table)+
		" WHERE tenant = '' GROUP BY uid) WHERE NOT w.1"+s.readSettings())
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	defer rows.Close()
	out := []dashboards.Summary{}
	for rows.Next() {
		var sum dashboards.Summary
		var deleted bool
		var updated int64
		if err := rows.Scan(&sum.UID, &deleted, &sum.Title, &sum.Tags, &sum.Version, &updated); err != nil {
			return nil, fmt.Errorf("list dashboards: %w", err)
		}
		sum.Updated = time.Unix(0, updated).UTC()
		if f.Matches(sum.UID, sum.Title, sum.Tags) {
			out = append(out, sum)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	sortSummaries(out)
	return out, nil
}

func sortSummaries(out []dashboards.Summary) {
	// Title case-insensitively, then uid: as the embedded store.
	slices.SortFunc(out, func(a, b dashboards.Summary) int {
		if c := strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)); c != 0 {
			return c
		}
		return strings.Compare(a.UID, b.UID)
	})
}

// Get implements dashboards.Store.
func (s *Store) Get(ctx context.Context, uid string) (dashboards.Record, error) {
	var doc string
	var updated int64
	h, found, err := s.head(ctx, uid, ", doc, updated_ns", &doc, &updated)
	if err != nil {
		return dashboards.Record{}, fmt.Errorf("get dashboard %s: %w", uid, err)
	}
	if !found || !h.exists() {
		return dashboards.Record{}, dashboards.ErrNotFound
	}
	return record(uid, doc, h.version(), updated)
}

func record(uid, doc string, version, updatedNs int64) (dashboards.Record, error) {
	rec := dashboards.Record{Version: version, Updated: time.Unix(0, updatedNs).UTC()}
	if err := json.Unmarshal([]byte(doc), &rec.Dashboard); err != nil {
		return rec, fmt.Errorf("dashboard %s: decode: %w", uid, err)
	}
	rec.Dashboard.Version = version
	return rec, nil
}

// Put implements dashboards.Store.
func (s *Store) Put(ctx context.Context, d dashboards.Dashboard, expected int64) (int64, error) {
	if d.UID == "" {
		return 0, errors.New("put dashboard: empty uid")
	}
	if expected < 0 {
		return 0, fmt.Errorf("put dashboard %s: negative version %d", d.UID, expected)
	}
	d.Version = 0 // the version is the row's
	doc, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: encode: %w", d.UID, err)
	}
	h, _, err := s.head(ctx, d.UID, "")
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", d.UID, err)
	}
	switch {
	case expected == 0 && h.exists():
		return 0, fmt.Errorf("dashboard %s exists (version %d): %w", d.UID, h.version(), dashboards.ErrConflict)
	case expected != 0 && !h.exists():
		return 0, fmt.Errorf("dashboard %s: %w", d.UID, dashboards.ErrNotFound)
	case expected != 0 && h.version() != expected:
		return 0, fmt.Errorf("dashboard %s is at version %d, not %d: %w", d.UID, h.version(), expected, dashboards.ErrConflict)
	}
	seq, base := h.seq+1, h.base
	if expected == 0 {
		base = seq
	}
	tags := d.Tags
	if tags == nil {
		tags = []string{}
	}
	if err := s.write(ctx, d.UID, seq, base, false, d.Title, tags, string(doc)); err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", d.UID, err)
	}
	version := int64(seq - base + 1)
	if version > dashboards.MaxVersions {
		s.remove(ctx, d.UID, "seq <= "+strconv.FormatUint(seq-dashboards.MaxVersions, 10))
	}
	return version, nil
}

// Delete implements dashboards.Store.
func (s *Store) Delete(ctx context.Context, uid string, version int64) error {
	h, _, err := s.head(ctx, uid, "")
	switch {
	case err != nil:
		return fmt.Errorf("delete dashboard %s: %w", uid, err)
	case !h.exists():
		return fmt.Errorf("dashboard %s: %w", uid, dashboards.ErrNotFound)
	case h.version() != version:
		return fmt.Errorf("dashboard %s is at version %d, not %d: %w", uid, h.version(), version, dashboards.ErrConflict)
	}
	seq := h.seq + 1
	if err := s.write(ctx, uid, seq, h.base, true, "", []string{}, ""); err != nil {
		return fmt.Errorf("delete dashboard %s: %w", uid, err)
	}
	// The history goes with the dashboard; the tombstone stays, as the uid's next seq.
	s.remove(ctx, uid, "seq < "+strconv.FormatUint(seq, 10))
	return nil
}

// write inserts the row of seq and reports whether it is the one ClickHouse kept: nil,
// or an error wrapping dashboards.ErrConflict when another save of the same seq came
// first (see schema.go).
func (s *Store) write(ctx context.Context, uid string, seq, base uint64, deleted bool, title string, tags []string, doc string) error {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return err
	}
	writer := hex.EncodeToString(tok[:])
	vals := []any{uid, seq, base, deleted, writer, time.Now().UnixNano(), title, tags, doc}
	lits := make([]string, len(vals))
	for i, v := range vals {
		lit, err := chsql.Value(v)
		if err != nil {
			return err
		}
		lits[i] = lit
	}
	settings := "insert_deduplication_token = " + chsql.String(uid+"/"+strconv.FormatUint(seq, 10))
	if s.schema.Cluster != "" {
		// Acknowledged once a majority of replicas has the row, one quorum insert at a
		// time, so that a read with select_sequential_consistency sees it.
		settings += ", insert_quorum = 'auto', insert_quorum_parallel = 0"
	}
	err := s.conn.Exec(ctx, "INSERT INTO "+s.schema.From(table)+" (uid, seq, base, deleted, writer, updated_ns, title, tags, doc) SETTINGS "+
		settings+" VALUES ("+strings.Join(lits, ", ")+")")
	if err != nil {
		return err
	}
	rows, err := s.conn.Query(ctx, "SELECT writer FROM "+s.schema.From(table)+" WHERE "+uidCond(uid)+" AND seq = "+
		strconv.FormatUint(seq, 10)+" ORDER BY writer DESC LIMIT 1"+s.readSettings())
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	defer rows.Close()
	kept := ""
	for rows.Next() {
		if err := rows.Scan(&kept); err != nil {
			return fmt.Errorf("read back: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	switch kept {
	case writer:
		return nil
	case "":
		// Not possible on one server; on a cluster, a replica without the row despite the
		// quorum. Not a conflict: the save may have happened, and the client must re-read.
		return errors.New("the saved row is not visible yet")
	default:
		return fmt.Errorf("saved concurrently by another writer: %w", dashboards.ErrConflict)
	}
}

// remove deletes rows of uid that readers no longer read (old versions, the history
// before a tombstone) with a lightweight DELETE. A failure is logged, not returned: the
// save is done and the rows are invisible anyway.
func (s *Store) remove(ctx context.Context, uid, cond string) {
	if err := s.conn.Exec(ctx, "DELETE FROM "+s.schema.From(table)+" WHERE "+uidCond(uid)+" AND "+cond); err != nil {
		s.logger.Warn("removing old dashboard versions", "uid", uid, "err", err)
	}
}
