package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

// The history of each dashboard: every saved version's document, the latest
// dashboards.MaxVersions of them, written in the transaction of the save. No primary key:
// the store's mutex and version check already make (uid, version) unique, and DuckDB's
// index checks refuse some delete-then-insert sequences a key would meet.
const dashboardVersionsDDL = `
CREATE TABLE IF NOT EXISTS dashboard_versions (
	uid VARCHAR NOT NULL,
	version BIGINT NOT NULL,
	updated_ns BIGINT NOT NULL,
	title VARCHAR NOT NULL,
	doc VARCHAR NOT NULL
)`

// createVersions creates the history table, and gives the dashboards saved before it
// existed their current version as their history.
func createVersions(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, dashboardVersionsDDL); err != nil {
		return fmt.Errorf("create dashboard_versions table: %w", err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO dashboard_versions
		SELECT uid, version, updated_ns, title, doc FROM dashboards d
		WHERE NOT EXISTS (SELECT 1 FROM dashboard_versions v WHERE v.uid = d.uid AND v.version = d.version)`)
	if err != nil {
		return fmt.Errorf("dashboard history of existing dashboards: %w", err)
	}
	return nil
}

// addVersion records a saved version and drops the ones beyond dashboards.MaxVersions.
func addVersion(ctx context.Context, tx *sql.Tx, uid string, version, updatedNs int64, title, doc string) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO dashboard_versions VALUES (?, ?, ?, ?, ?)", uid, version, updatedNs, title, doc); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM dashboard_versions WHERE uid = ? AND version <= ?", uid, version-dashboards.MaxVersions); err != nil {
		return fmt.Errorf("history: prune: %w", err)
	}
	return nil
}

// Versions implements dashboards.Store.
func (d *Dashboards) Versions(ctx context.Context, uid string) ([]dashboards.VersionInfo, error) {
	rows, err := d.s.db.QueryContext(ctx, "SELECT version, updated_ns, title FROM dashboard_versions WHERE uid = ? ORDER BY version DESC", uid)
	if err != nil {
		return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
	}
	defer rows.Close()
	out := []dashboards.VersionInfo{}
	for rows.Next() {
		var v dashboards.VersionInfo
		var updated int64
		if err := rows.Scan(&v.Version, &updated, &v.Title); err != nil {
			return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
		}
		v.Updated = time.Unix(0, updated).UTC()
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dashboard %s: %w", uid, dashboards.ErrNotFound)
	}
	return out, nil
}

// GetVersion implements dashboards.Store.
func (d *Dashboards) GetVersion(ctx context.Context, uid string, version int64) (dashboards.Record, error) {
	var rec dashboards.Record
	var doc string
	var updated int64
	err := d.s.db.QueryRowContext(ctx, "SELECT doc, updated_ns FROM dashboard_versions WHERE uid = ? AND version = ?", uid, version).
		Scan(&doc, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, fmt.Errorf("dashboard %s version %d: %w", uid, version, dashboards.ErrNotFound)
	}
	if err != nil {
		return rec, fmt.Errorf("dashboard %s version %d: %w", uid, version, err)
	}
	if err := json.Unmarshal([]byte(doc), &rec.Dashboard); err != nil {
		return rec, fmt.Errorf("dashboard %s version %d: decode: %w", uid, version, err)
	}
	rec.Version = version
	rec.Dashboard.Version = version
	rec.Updated = time.Unix(0, updated).UTC()
	return rec, nil
}
