package chdashboards

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

// kept returns the range of seq of the kept versions of a dashboard: its incarnation's,
// the latest MaxVersions of them.
func (h head) kept() (first, last uint64) {
	first = h.base
	if h.seq >= dashboards.MaxVersions && h.seq-dashboards.MaxVersions+1 > first {
		first = h.seq - dashboards.MaxVersions + 1
	}
	return first, h.seq
}

// Versions implements dashboards.Store.
func (s *Store) Versions(ctx context.Context, uid string) ([]dashboards.VersionInfo, error) {
	h, _, err := s.head(ctx, uid, "")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
	}
	if !h.exists() {
		return nil, fmt.Errorf("dashboard %s: %w", uid, dashboards.ErrNotFound)
	}
	first, last := h.kept()
	rows, err := s.conn.Query(ctx, "SELECT seq, w.1, w.2 FROM (SELECT seq, argMax(tuple(updated_ns, title), writer) AS w FROM "+
		s.schema.From(table)+" WHERE "+uidCond(uid)+" AND seq BETWEEN "+strconv.FormatUint(first, 10)+" AND "+strconv.FormatUint(last, 10)+
		" GROUP BY seq) ORDER BY seq DESC"+s.readSettings())
	if err != nil {
		return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
	}
	defer rows.Close()
	out := []dashboards.VersionInfo{}
	for rows.Next() {
		var v dashboards.VersionInfo
		var seq uint64
		var updated int64
		if err := rows.Scan(&seq, &updated, &v.Title); err != nil {
			return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
		}
		v.Version, v.Updated = int64(seq-h.base+1), time.Unix(0, updated).UTC()
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard %s history: %w", uid, err)
	}
	return out, nil
}

// GetVersion implements dashboards.Store.
func (s *Store) GetVersion(ctx context.Context, uid string, version int64) (dashboards.Record, error) {
	h, _, err := s.head(ctx, uid, "")
	if err != nil {
		return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, err)
	}
	first, last := h.kept()
	seq := h.base + uint64(version) - 1
	if !h.exists() || version < 1 || seq < first || seq > last {
		return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, dashboards.ErrNotFound)
	}
	rows, err := s.conn.Query(ctx, "SELECT doc, updated_ns FROM "+s.schema.From(table)+" WHERE "+uidCond(uid)+" AND seq = "+
		strconv.FormatUint(seq, 10)+" ORDER BY writer DESC LIMIT 1"+s.readSettings())
	if err != nil {
		return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, err)
	}
	defer rows.Close()
	var doc string
	var updated int64
	found := false
	for rows.Next() {
		if err := rows.Scan(&doc, &updated); err != nil {
			return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, err)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, err)
	}
	if !found {
		return dashboards.Record{}, fmt.Errorf("dashboard %s version %d: %w", uid, version, dashboards.ErrNotFound)
	}
	return record(uid, doc, version, updated)
}
