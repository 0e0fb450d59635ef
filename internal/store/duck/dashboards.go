package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

// Dashboards are few and small (a few hundred documents of kilobytes), written by people
// one at a time: one plain table keyed by uid holds each dashboard's latest version as its
// JSON document, with the title and tags lists filter on. Lists filter in Go.
const dashboardsDDL = `
CREATE TABLE IF NOT EXISTS dashboards (
	uid VARCHAR PRIMARY KEY,
	title VARCHAR NOT NULL,
	tags VARCHAR NOT NULL,
	version BIGINT NOT NULL,
	updated_ns BIGINT NOT NULL,
	doc VARCHAR NOT NULL
)`

// Dashboards is the dashboards.Store of a DuckDB store. Get it once per Store with
// (*Store).Dashboards: its mutex is what makes a version check and the write after it one
// step.
type Dashboards struct {
	s  *Store
	mu sync.Mutex // serialises Put and Delete
}

var _ dashboards.Store = (*Dashboards)(nil)

// Dashboards creates the dashboards tables if needed and returns the store of dashboards.
func (s *Store) Dashboards(ctx context.Context) (*Dashboards, error) {
	if _, err := s.db.ExecContext(ctx, dashboardsDDL); err != nil {
		return nil, fmt.Errorf("create dashboards table: %w", err)
	}
	if err := createVersions(ctx, s.db); err != nil {
		return nil, err
	}
	return &Dashboards{s: s}, nil
}

// List implements dashboards.Store.
func (d *Dashboards) List(ctx context.Context, f dashboards.Filter) ([]dashboards.Summary, error) {
	rows, err := d.s.db.QueryContext(ctx, "SELECT uid, title, tags, version, updated_ns FROM dashboards")
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	defer rows.Close()
	out := []dashboards.Summary{}
	for rows.Next() {
		var sum dashboards.Summary
		var tags string
		var updated int64
		if err := rows.Scan(&sum.UID, &sum.Title, &tags, &sum.Version, &updated); err != nil {
			return nil, fmt.Errorf("list dashboards: %w", err)
		}
		if err := json.Unmarshal([]byte(tags), &sum.Tags); err != nil {
			return nil, fmt.Errorf("list dashboards: tags of %s: %w", sum.UID, err)
		}
		sum.Updated = time.Unix(0, updated).UTC()
		if f.Matches(sum.UID, sum.Title, sum.Tags) {
			out = append(out, sum)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	slices.SortFunc(out, func(a, b dashboards.Summary) int {
		if c := strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)); c != 0 {
			return c
		}
		return strings.Compare(a.UID, b.UID)
	})
	return out, nil
}

// Get implements dashboards.Store.
func (d *Dashboards) Get(ctx context.Context, uid string) (dashboards.Record, error) {
	var rec dashboards.Record
	var doc string
	var updated int64
	err := d.s.db.QueryRowContext(ctx, "SELECT doc, version, updated_ns FROM dashboards WHERE uid = ?", uid).
		Scan(&doc, &rec.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, dashboards.ErrNotFound
	}
	if err != nil {
		return rec, fmt.Errorf("get dashboard %s: %w", uid, err)
	}
	if err := json.Unmarshal([]byte(doc), &rec.Dashboard); err != nil {
		return rec, fmt.Errorf("get dashboard %s: decode: %w", uid, err)
	}
	rec.Dashboard.Version = rec.Version
	rec.Updated = time.Unix(0, updated).UTC()
	return rec, nil
}

// version returns the stored version of uid, 0 when there is none.
func (d *Dashboards) version(ctx context.Context, tx *sql.Tx, uid string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT version FROM dashboards WHERE uid = ?", uid).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// Put implements dashboards.Store.
func (d *Dashboards) Put(ctx context.Context, db dashboards.Dashboard, expected int64) (int64, error) {
	if db.UID == "" {
		return 0, errors.New("put dashboard: empty uid")
	}
	if expected < 0 {
		return 0, fmt.Errorf("put dashboard %s: negative version %d", db.UID, expected)
	}
	db.Version = 0 // the version lives in its column
	doc, err := json.Marshal(db)
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: encode: %w", db.UID, err)
	}
	tags := db.Tags
	if tags == nil {
		tags = []string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: encode tags: %w", db.UID, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.s.guard.check(); err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", db.UID, err)
	}
	tx, err := d.s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: begin: %w", db.UID, err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	cur, err := d.version(ctx, tx, db.UID)
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", db.UID, err)
	}
	switch {
	case expected == 0 && cur != 0:
		return 0, fmt.Errorf("dashboard %s exists (version %d): %w", db.UID, cur, dashboards.ErrConflict)
	case expected != 0 && cur == 0:
		return 0, fmt.Errorf("dashboard %s: %w", db.UID, dashboards.ErrNotFound)
	case cur != expected:
		return 0, fmt.Errorf("dashboard %s is at version %d, not %d: %w", db.UID, cur, expected, dashboards.ErrConflict)
	}
	now := time.Now().UnixNano()
	if cur == 0 {
		_, err = tx.ExecContext(ctx, "INSERT INTO dashboards VALUES (?, ?, ?, 1, ?, ?)", db.UID, db.Title, string(tagsJSON), now, string(doc))
	} else {
		_, err = tx.ExecContext(ctx, "UPDATE dashboards SET title = ?, tags = ?, version = ?, updated_ns = ?, doc = ? WHERE uid = ?",
			db.Title, string(tagsJSON), cur+1, now, string(doc), db.UID)
	}
	if err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", db.UID, err)
	}
	if err := addVersion(ctx, tx, db.UID, cur+1, now, db.Title, string(doc)); err != nil {
		return 0, fmt.Errorf("put dashboard %s: %w", db.UID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("put dashboard %s: commit: %w", db.UID, err)
	}
	return cur + 1, nil
}

// Delete implements dashboards.Store.
func (d *Dashboards) Delete(ctx context.Context, uid string, version int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete dashboard %s: begin: %w", uid, err)
	}
	defer func() { _ = tx.Rollback() }()
	cur, err := d.version(ctx, tx, uid)
	switch {
	case err != nil:
		return fmt.Errorf("delete dashboard %s: %w", uid, err)
	case cur == 0:
		return fmt.Errorf("dashboard %s: %w", uid, dashboards.ErrNotFound)
	case cur != version:
		return fmt.Errorf("dashboard %s is at version %d, not %d: %w", uid, cur, version, dashboards.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM dashboards WHERE uid = ?", uid); err != nil {
		return fmt.Errorf("delete dashboard %s: %w", uid, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM dashboard_versions WHERE uid = ?", uid); err != nil {
		return fmt.Errorf("delete dashboard %s: history: %w", uid, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete dashboard %s: commit: %w", uid, err)
	}
	return nil
}
