// Package chruns stores batch-job runs in ClickHouse: the runs of the ClickHouse backend,
// implementing runs.Store (and store.Retainer, store.Sizer) as the embedded backend does,
// and passing runstest.Test on chDB.
package chruns

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure the store.
type Options struct {
	// Retention, when > 0, sets the table's TTL by run start: ClickHouse drops a day's
	// parts once all their runs started before it. DropBefore drops days either way.
	Retention time.Duration
}

// Store is the run store. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	logger *slog.Logger

	mu   sync.Mutex
	last int64 // the last write time handed out by writeTime, in nanoseconds
}

var (
	_ runs.Store     = (*Store)(nil)
	_ store.Retainer = (*Store)(nil)
	_ store.Sizer    = (*Store)(nil)
)

// New migrates the runs schema of schema's database and returns the store. The store
// does not own conn: Close leaves it open.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations(schema), logger); err != nil {
		return nil, fmt.Errorf("chruns: %w", err)
	}
	s := &Store{conn: conn, schema: schema, logger: logger}
	if err := s.setTTL(ctx, opts.Retention); err != nil {
		return nil, fmt.Errorf("chruns: %w", err)
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// finalBit is the top bit of version: set for a final record.
const finalBit = uint64(1) << 63

// versionOf is the ReplacingMergeTree version of a record written at writeNs: a final
// record outranks every running one, and within a kind the later write wins. Write times
// come from the clock of the writing node: between two Loupe nodes, two records of one
// kind are ordered by their clocks (a skew of more than the time between the two writes
// lets the earlier one win; the final-over-running rule does not depend on clocks).
func versionOf(status string, writeNs int64) uint64 {
	v := uint64(writeNs) &^ finalBit
	if runs.Final(status) {
		v |= finalBit
	}
	return v
}

// writeTime is now in nanoseconds, strictly greater than any earlier writeTime of this
// store, so that two upserts of one process are ordered even within a clock tick.
func (s *Store) writeTime() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(time.Now().UnixNano(), s.last+1)
	return s.last
}

// insertCols are the columns UpsertRuns fills, in row order.
var insertCols = []string{
	"run_id", "version", "name", "status", "host", "user_name", "command_line", "start_ns",
	"end_ns", "duration_seconds", "exit_code", "signal", "tags", "peak_rss_bytes",
	"max_rss_bytes", "user_cpu_seconds", "system_cpu_seconds", "trace_id", "record", "lost_after_ns",
}

// UpsertRuns inserts one row per run of rs. See runs.Writer.
//
// Nothing is read or updated: the rows go in with their version and readers pick each
// run's winner, so concurrent upserts, from one node or several, need no lock. The rows
// are one INSERT, visible at once on a single server; ClickHouse writes a part per day of
// run start in it, and a failure between two parts leaves some written. A retry of the
// call then writes them again, which is harmless: an upsert is idempotent.
func (s *Store) UpsertRuns(ctx context.Context, rs []runs.Run) error {
	rs = latestRecords(rs)
	if len(rs) == 0 {
		return nil
	}
	now := s.writeTime()
	rows := make([][]any, 0, len(rs))
	for _, r := range rs {
		var endNs int64
		if !r.End.IsZero() {
			endNs = r.End.UnixNano()
		}
		duration := 0.0
		if runs.Final(r.Status) {
			duration = r.DurationSeconds
		}
		var lostAfter int64 // 0: never lost
		if !r.LostAfter.IsZero() {
			lostAfter = r.LostAfter.UnixNano()
		}
		tags := r.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		rows = append(rows, []any{
			r.RunID, versionOf(r.Status, now), r.Name, r.Status, r.Host, r.User, r.CommandLine,
			r.Start.UnixNano(), endNs, duration, int32(r.ExitCode), r.Signal, tags,
			r.PeakRSSBytes, r.MaxRSSBytes, r.UserCPUSeconds, r.SysCPUSeconds, r.TraceID, string(r.Record), lostAfter,
		})
	}
	if err := s.conn.Insert(ctx, s.schema.Database+"."+table, insertCols, rows); err != nil {
		return fmt.Errorf("upsert runs: %w", err)
	}
	return nil
}

// latestRecords keeps one record per run id, the one the rule keeps had the records come
// one at a time: the rows of one INSERT share a write time, so the order within a batch
// is applied here.
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
