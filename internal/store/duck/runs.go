package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/runs"
)

// Runs are few (one row per batch-job run, not per event), so they live in one plain table
// keyed by run id rather than in day partitions: a run is updated after it started (its
// start-of-run record, then its final one), and retention deletes rows (dropRunsBefore).
// The summary columns are what lists filter and sort on; the record column is the whole
// record JSON as ingested. end_ns and duration_seconds are NULL while a run is running.
// lost_after_ns (runs.Summary.LostAfter, added after the first release: runsMigrations
// adds it to older tables, last, as here) is NULL for final records and records without
// a heartbeat.
const runsDDL = `
CREATE TABLE IF NOT EXISTS runs (
	run_id VARCHAR PRIMARY KEY,
	name VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	host VARCHAR NOT NULL,
	user_name VARCHAR NOT NULL,
	command_line VARCHAR NOT NULL,
	start_ns BIGINT NOT NULL,
	end_ns BIGINT,
	duration_seconds DOUBLE,
	exit_code INTEGER NOT NULL,
	signal VARCHAR NOT NULL,
	tags MAP(VARCHAR, VARCHAR) NOT NULL,
	peak_rss_bytes UBIGINT NOT NULL,
	max_rss_bytes UBIGINT NOT NULL,
	user_cpu_seconds DOUBLE NOT NULL,
	system_cpu_seconds DOUBLE NOT NULL,
	trace_id VARCHAR NOT NULL,
	record VARCHAR NOT NULL,
	lost_after_ns BIGINT
)`

// runsMigrations bring a runs table of an older Loupe to runsDDL.
var runsMigrations = []string{
	"ALTER TABLE runs ADD COLUMN IF NOT EXISTS lost_after_ns BIGINT",
}

var _ runs.Store = (*Store)(nil)

// upsertRunsSQL inserts rows runs or replaces their rows, unless a row is final and its new
// record is not: a final record wins over a running one whatever the arrival order.
func upsertRunsSQL(rows int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(CAST(? AS JSON) AS MAP(VARCHAR, VARCHAR)), ?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO runs VALUES " + strings.Repeat(row+", ", rows-1) + row + `
ON CONFLICT (run_id) DO UPDATE SET
	name = excluded.name, status = excluded.status, host = excluded.host,
	user_name = excluded.user_name, command_line = excluded.command_line,
	start_ns = excluded.start_ns, end_ns = excluded.end_ns,
	duration_seconds = excluded.duration_seconds, exit_code = excluded.exit_code,
	signal = excluded.signal, tags = excluded.tags, peak_rss_bytes = excluded.peak_rss_bytes,
	max_rss_bytes = excluded.max_rss_bytes, user_cpu_seconds = excluded.user_cpu_seconds,
	system_cpu_seconds = excluded.system_cpu_seconds, trace_id = excluded.trace_id,
	record = excluded.record, lost_after_ns = excluded.lost_after_ns
WHERE runs.status = 'running' OR excluded.status <> 'running'`
}

// upsertChunk is how many runs one INSERT statement carries. One statement per run costs
// DuckDB a block of transaction-local memory each (measured: a transaction of 900 single-row
// upserts ran out of a 512MB memory limit), so rows go in multi-row statements.
const upsertChunk = 100

// UpsertRuns stores runs in one transaction. See runs.Writer.
func (s *Store) UpsertRuns(ctx context.Context, rs []runs.Run) error {
	rs = latestRecords(rs)
	if len(rs) == 0 {
		return nil
	}
	// Writers are serialised: two transactions updating one run row would conflict, and
	// one would fail.
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	if err := s.guard.check(); err != nil {
		return fmt.Errorf("upsert runs: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upsert runs: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	for chunk := range slices.Chunk(rs, upsertChunk) {
		args := make([]any, 0, 19*len(chunk))
		for _, r := range chunk {
			// Tags go in as a JSON object: list parameters of the driver cut strings at a NUL.
			tags, err := json.Marshal(r.Tags)
			if err != nil {
				return fmt.Errorf("upsert run %s: encode tags: %w", r.RunID, err)
			}
			var endNs, duration any // NULL while running
			if !r.End.IsZero() {
				endNs = r.End.UnixNano()
			}
			if runs.Final(r.Status) {
				duration = r.DurationSeconds
			}
			var lostAfter any // NULL: never lost
			if !r.LostAfter.IsZero() {
				lostAfter = r.LostAfter.UnixNano()
			}
			args = append(args, r.RunID, r.Name, r.Status, r.Host, r.User, r.CommandLine,
				r.Start.UnixNano(), endNs, duration, r.ExitCode, r.Signal, string(tags),
				r.PeakRSSBytes, r.MaxRSSBytes, r.UserCPUSeconds, r.SysCPUSeconds, r.TraceID, string(r.Record), lostAfter)
		}
		if _, err := tx.ExecContext(ctx, upsertRunsSQL(len(chunk)), args...); err != nil {
			return fmt.Errorf("upsert runs %s...: %w", chunk[0].RunID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upsert runs: commit: %w", err)
	}
	return nil
}

// latestRecords keeps one record per run id, the one UpsertRuns would end with had the
// records come one at a time: DuckDB refuses to update one row twice in a statement, and
// a batch may hold a run's start and end records.
func latestRecords(rs []runs.Run) []runs.Run {
	if len(rs) < 2 {
		return rs
	}
	out := make([]runs.Run, 0, len(rs))
	at := make(map[string]int, len(rs))
	for _, r := range rs {
		i, seen := at[r.RunID]
		switch {
		case !seen:
			at[r.RunID] = len(out)
			out = append(out, r)
		case runs.Final(r.Status) || !runs.Final(out[i].Status):
			out[i] = r
		}
	}
	return out
}

// dropRunsBefore deletes the runs that started before cutoff. The table holds one row per
// run, so a DELETE is cheap here, unlike for the event partitions.
func (s *Store) dropRunsBefore(ctx context.Context, cutoff time.Time) error {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	res, err := s.db.ExecContext(ctx, "DELETE FROM runs WHERE start_ns < ?", cutoff.UnixNano())
	if err != nil {
		return fmt.Errorf("delete runs: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		s.logger.Info("retention deleted runs", "cutoff", cutoff, "runs", n)
	}
	return nil
}

// initRuns creates the runs table. Called once by Open.
func initRuns(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, runsDDL); err != nil {
		return fmt.Errorf("create runs table: %w", err)
	}
	for _, m := range runsMigrations {
		if _, err := db.ExecContext(ctx, m); err != nil {
			return fmt.Errorf("migrate runs table: %w", err)
		}
	}
	return nil
}
