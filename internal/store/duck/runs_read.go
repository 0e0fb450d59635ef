package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/loupe-dev/loupe/internal/runs"
)

const runSummaryColumns = `run_id, name, status, host, user_name, command_line, start_ns, end_ns,
	duration_seconds, exit_code, signal, tags, peak_rss_bytes, max_rss_bytes, user_cpu_seconds,
	system_cpu_seconds, trace_id, lost_after_ns`

// ListRuns returns one page of runs, newest start first. See runs.Reader.
func (s *Store) ListRuns(ctx context.Context, q runs.Query) (runs.Page, error) {
	limit := pageLimit(q.Limit, runs.DefaultLimit, runs.MaxLimit)
	at := q.At() // the time the running/lost filter is evaluated at
	var w where
	if !q.Start.IsZero() {
		w.add("start_ns >= ?", q.Start.UnixNano())
	}
	if !q.End.IsZero() {
		w.add("start_ns < ?", q.End.UnixNano())
	}
	if q.Name != "" {
		w.add("name = ?", q.Name)
	}
	switch q.Status {
	case "":
	case runs.StatusRunning:
		w.add("status = 'running' AND (lost_after_ns IS NULL OR lost_after_ns > ?)", at.UnixNano())
	case runs.StatusLost:
		w.add("status = 'running' AND lost_after_ns <= ?", at.UnixNano())
	default:
		w.add("status = ?", q.Status)
	}
	if q.Host != "" {
		w.add("host = ?", q.Host)
	}
	// Sorted so that the statement text, and DuckDB's plan, do not depend on map order.
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		w.add("tags[?] = ?", k, q.Tags[k])
	}
	if q.Cursor != "" {
		startNs, runID, ok := parsePageCursor(q.Cursor)
		if !ok {
			return runs.Page{}, fmt.Errorf("list runs: malformed cursor %q", q.Cursor)
		}
		w.add("(start_ns < ? OR (start_ns = ? AND run_id < ?))", startNs, startNs, runID)
	}
	query := "SELECT " + runSummaryColumns + " FROM runs" + w.sql()
	// One more than the page tells whether there is a next page.
	query += " ORDER BY start_ns DESC, run_id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return runs.Page{}, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	page := runs.Page{Runs: []runs.Summary{}}
	for rows.Next() {
		sum, err := scanRunSummary(rows)
		if err != nil {
			return runs.Page{}, fmt.Errorf("list runs: %w", err)
		}
		if len(page.Runs) == limit {
			last := page.Runs[limit-1]
			page.NextCursor = pageCursor(last.Start.UnixNano(), last.RunID)
			break
		}
		page.Runs = append(page.Runs, sum)
	}
	if err := rows.Err(); err != nil {
		return runs.Page{}, fmt.Errorf("list runs: %w", err)
	}
	return page, nil
}

func scanRunSummary(rows *sql.Rows) (runs.Summary, error) {
	var (
		s        runs.Summary
		startNs  int64
		endNs    sql.NullInt64
		duration sql.NullFloat64
		tags     duckdb.Map
		lost     sql.NullInt64
	)
	err := rows.Scan(&s.RunID, &s.Name, &s.Status, &s.Host, &s.User, &s.CommandLine, &startNs, &endNs,
		&duration, &s.ExitCode, &s.Signal, &tags, &s.PeakRSSBytes, &s.MaxRSSBytes, &s.UserCPUSeconds,
		&s.SysCPUSeconds, &s.TraceID, &lost)
	if err != nil {
		return s, err
	}
	if lost.Valid {
		s.LostAfter = time.Unix(0, lost.Int64).UTC()
	}
	s.Start = time.Unix(0, startNs).UTC()
	if endNs.Valid {
		s.End = time.Unix(0, endNs.Int64).UTC()
	}
	s.DurationSeconds = duration.Float64
	s.Tags = make(map[string]string, len(tags))
	for k, v := range tags {
		ks, _ := k.(string)
		vs, _ := v.(string)
		s.Tags[ks] = vs
	}
	return s, nil
}

// RunNames counts runs per job name. See runs.Reader.
func (s *Store) RunNames(ctx context.Context, start, end time.Time) ([]runs.NameCount, error) {
	var w where
	if !start.IsZero() {
		w.add("start_ns >= ?", start.UnixNano())
	}
	if !end.IsZero() {
		w.add("start_ns < ?", end.UnixNano())
	}
	query := "SELECT name, count(*), max(start_ns) FROM runs" + w.sql() + " GROUP BY name ORDER BY name"
	rows, err := s.db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("run names: %w", err)
	}
	defer rows.Close()
	out := []runs.NameCount{}
	for rows.Next() {
		var nc runs.NameCount
		var last int64
		if err := rows.Scan(&nc.Name, &nc.Runs, &last); err != nil {
			return nil, fmt.Errorf("run names: %w", err)
		}
		nc.LastStart = time.Unix(0, last).UTC()
		out = append(out, nc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run names: %w", err)
	}
	return out, nil
}

// GetRun returns the record JSON of one run. See runs.Reader.
func (s *Store) GetRun(ctx context.Context, runID string) ([]byte, error) {
	var rec string
	err := s.db.QueryRowContext(ctx, "SELECT record FROM runs WHERE run_id = ?", strings.ToLower(runID)).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %s: %w", runID, runs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	return []byte(rec), nil
}
