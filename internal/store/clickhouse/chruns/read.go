package chruns

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// summaryCols are the columns of a runs.Summary, in scanSummary's order; winners selects
// them as the winning record's (argMax by version) under the same names.
var summaryCols = []string{
	"name", "status", "host", "user_name", "command_line", "start_ns", "end_ns",
	"duration_seconds", "exit_code", "signal", "tags", "peak_rss_bytes", "max_rss_bytes",
	"user_cpu_seconds", "system_cpu_seconds", "trace_id", "lost_after_ns",
}

// winners is a SELECT of each run's winning record (run_id, then summaryCols): the row of
// highest version, whether or not merges have collapsed the others yet. Filters on the
// winners go in the WHERE of the caller's query around it. prefilter, when not empty, is
// the same condition on the stored rows: a run whose winner passes it has a row that
// passes it, so only those runs are aggregated (the winners are filtered again after).
func (s *Store) winners(prefilter string) string {
	var b strings.Builder
	b.WriteString("SELECT run_id")
	for i, c := range summaryCols {
		b.WriteString(", w." + strconv.Itoa(i+1) + " AS " + c)
	}
	b.WriteString(" FROM (SELECT run_id, argMax(tuple(" + strings.Join(summaryCols, ", ") + "), version) AS w FROM " +
		s.schema.From(table) + " WHERE tenant = ''")
	if prefilter != "" {
		b.WriteString(" AND run_id IN (SELECT run_id FROM " + s.schema.From(table) + " WHERE tenant = '' AND " + prefilter + ")")
	}
	b.WriteString(" GROUP BY run_id)")
	return b.String()
}

// startRange is the condition of start in [start, end), zero times unbounded.
func startRange(start, end time.Time) []string {
	var conds []string
	if !start.IsZero() {
		conds = append(conds, "start_ns >= "+strconv.FormatInt(start.UnixNano(), 10))
	}
	if !end.IsZero() {
		conds = append(conds, "start_ns < "+strconv.FormatInt(end.UnixNano(), 10))
	}
	return conds
}

// ListRuns returns one page of runs, newest start first. See runs.Reader.
func (s *Store) ListRuns(ctx context.Context, q runs.Query) (runs.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = runs.DefaultLimit
	}
	limit = min(limit, runs.MaxLimit)
	at := q.At() // the time the running/lost filter is evaluated at
	conds := startRange(q.Start, q.End)
	if q.Name != "" {
		conds = append(conds, "name = "+chsql.String(q.Name))
	}
	atNs := strconv.FormatInt(at.UnixNano(), 10)
	switch q.Status {
	case "":
	case runs.StatusRunning:
		conds = append(conds, "status = 'running' AND (lost_after_ns = 0 OR lost_after_ns > "+atNs+")")
	case runs.StatusLost:
		conds = append(conds, "status = 'running' AND lost_after_ns != 0 AND lost_after_ns <= "+atNs)
	default:
		conds = append(conds, "status = "+chsql.String(q.Status))
	}
	if q.Host != "" {
		conds = append(conds, "host = "+chsql.String(q.Host))
	}
	// Sorted so that the statement text does not depend on map order. mapContains: a
	// missing key reads as '' and must not match a filter on the empty value.
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		conds = append(conds, "mapContains(tags, "+chsql.String(k)+") AND tags["+chsql.String(k)+"] = "+chsql.String(q.Tags[k]))
	}
	if q.Cursor != "" {
		startNs, runID, ok := parseCursor(q.Cursor)
		if !ok {
			return runs.Page{}, fmt.Errorf("list runs: malformed cursor %q", q.Cursor)
		}
		ns := strconv.FormatInt(startNs, 10)
		conds = append(conds, "(start_ns < "+ns+" OR (start_ns = "+ns+" AND run_id < "+chsql.String(runID)+"))")
	}
	cond := strings.Join(conds, " AND ")
	query := "SELECT * FROM (" + s.winners(cond) + ")"
	if cond != "" {
		query += " WHERE " + cond
	}
	// One more than the page tells whether there is a next page.
	query += " ORDER BY start_ns DESC, run_id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return runs.Page{}, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	page := runs.Page{Runs: []runs.Summary{}}
	for rows.Next() {
		sum, err := scanSummary(rows)
		if err != nil {
			return runs.Page{}, fmt.Errorf("list runs: %w", err)
		}
		if len(page.Runs) == limit {
			last := page.Runs[limit-1]
			page.NextCursor = strconv.FormatInt(last.Start.UnixNano(), 10) + ":" + last.RunID
			break
		}
		page.Runs = append(page.Runs, sum)
	}
	if err := rows.Err(); err != nil {
		return runs.Page{}, fmt.Errorf("list runs: %w", err)
	}
	return page, nil
}

// parseCursor reads a cursor "<start ns>:<run id>" of ListRuns.
func parseCursor(c string) (startNs int64, runID string, ok bool) {
	k, id, found := strings.Cut(c, ":")
	n, err := strconv.ParseInt(k, 10, 64)
	return n, id, found && err == nil && id != ""
}

func scanSummary(rows chsql.Rows) (runs.Summary, error) {
	var (
		s                         runs.Summary
		startNs, endNs, lostAfter int64
		exit                      int32
	)
	err := rows.Scan(&s.RunID, &s.Name, &s.Status, &s.Host, &s.User, &s.CommandLine, &startNs, &endNs,
		&s.DurationSeconds, &exit, &s.Signal, &s.Tags, &s.PeakRSSBytes, &s.MaxRSSBytes, &s.UserCPUSeconds,
		&s.SysCPUSeconds, &s.TraceID, &lostAfter)
	if err != nil {
		return s, err
	}
	if lostAfter != 0 {
		s.LostAfter = time.Unix(0, lostAfter).UTC()
	}
	s.Start = time.Unix(0, startNs).UTC()
	if endNs != 0 {
		s.End = time.Unix(0, endNs).UTC()
	}
	s.ExitCode = int(exit)
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	return s, nil
}

// RunNames counts runs per job name. See runs.Reader.
func (s *Store) RunNames(ctx context.Context, start, end time.Time) ([]runs.NameCount, error) {
	cond := strings.Join(startRange(start, end), " AND ")
	query := "SELECT name, count(), max(start_ns) FROM (" + s.winners(cond) + ")"
	if cond != "" {
		query += " WHERE " + cond
	}
	query += " GROUP BY name ORDER BY name"
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("run names: %w", err)
	}
	defer rows.Close()
	out := []runs.NameCount{}
	for rows.Next() {
		var nc runs.NameCount
		var n uint64
		var last int64
		if err := rows.Scan(&nc.Name, &n, &last); err != nil {
			return nil, fmt.Errorf("run names: %w", err)
		}
		nc.Runs = int64(n)
		nc.LastStart = time.Unix(0, last).UTC()
		out = append(out, nc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run names: %w", err)
	}
	return out, nil
}

// GetRun returns the winning record JSON of one run. See runs.Reader.
func (s *Store) GetRun(ctx context.Context, runID string) ([]byte, error) {
	rows, err := s.conn.Query(ctx, "SELECT argMax(record, version) FROM "+s.schema.From(table)+
		" WHERE tenant = '' AND run_id = "+chsql.String(strings.ToLower(runID))+" GROUP BY run_id")
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	defer rows.Close()
	var rec string
	found := false
	for rows.Next() {
		if err := rows.Scan(&rec); err != nil {
			return nil, fmt.Errorf("get run %s: %w", runID, err)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	if !found {
		return nil, fmt.Errorf("run %s: %w", runID, runs.ErrNotFound)
	}
	return []byte(rec), nil
}
