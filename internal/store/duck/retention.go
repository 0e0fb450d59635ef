package duck

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// DropBefore drops the day partitions of signal that end at or before cutoff. Data of the
// day containing cutoff stays. See store.Retainer.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	// The statements are not interrupted when ctx ends (a retention pass is short): a
	// DuckDB statement interrupted by its context left its transaction open on the
	// connection, and the CHECKPOINT at Close then failed with "other write transactions
	// active" (seen when a server stopped right after it started, as the retention loop
	// ran its first pass).
	ctx = context.WithoutCancel(ctx)
	var (
		dropped []string
		err     error
	)
	switch signal {
	case store.SignalLogs:
		dropped, err = s.logs.dropBefore(ctx, cutoff.UnixNano(), func(conn *sql.Conn, cutoffDay int64) error {
			s.openBodies.dropBefore(cutoffDay)
			s.openTerms.dropBefore(cutoffDay)
			if err := s.termIndex.dropBefore(ctx, conn, cutoffDay); err != nil {
				return err
			}
			return s.bodyIndex.dropBefore(ctx, conn, cutoffDay)
		})
	case store.SignalSpans:
		dropped, err = s.spans.dropBefore(ctx, cutoff.UnixNano(), func(conn *sql.Conn, cutoffDay int64) error {
			// The catalog is tiny (one row per day, service and span name), so a DELETE
			// here is not the row-by-row retention the partitions avoid.
			s.spanNames.reset()
			if err := s.traceIndex.dropBefore(ctx, conn, cutoffDay); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, "DELETE FROM span_names WHERE day < ?", cutoffDay); err != nil {
				return fmt.Errorf("prune span names: %w", err)
			}
			return nil
		})
	case store.SignalProfiles:
		dropped, err = s.profiles.dropBefore(ctx, cutoff.UnixNano())
	case store.SignalRuns:
		return s.dropRunsBefore(ctx, cutoff)
	case store.SignalErrors:
		return s.dropErrorsBefore(ctx, cutoff)
	default:
		return fmt.Errorf("drop before: signal %q is not stored in duckdb", signal)
	}
	if len(dropped) > 0 {
		s.logger.Info("retention dropped partitions", "signal", signal, "cutoff", cutoff, "tables", dropped)
	}
	if err != nil {
		return fmt.Errorf("drop %s before %s: %w", signal, cutoff.Format(time.RFC3339), err)
	}
	return nil
}

// DiskBytes estimates bytes on disk per signal. DuckDB does not report table sizes, so
// the estimate counts the distinct storage blocks (pragma_storage_info) each signal's
// partitions occupy, times the database block size. Blocks shared with other tables are
// counted for each, and data still only in the WAL (not yet checkpointed) is not counted,
// so the sum can differ from the file size by a few blocks. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	var blockSize int64
	if err := s.db.QueryRowContext(ctx, "SELECT block_size FROM pragma_database_size() LIMIT 1").Scan(&blockSize); err != nil {
		return nil, fmt.Errorf("disk bytes: %w", err)
	}
	tables := map[store.Signal][]string{
		store.SignalLogs:     s.logs.tables(timeRange(time.Time{}, time.Time{})),
		store.SignalSpans:    s.spans.tables(timeRange(time.Time{}, time.Time{})),
		store.SignalProfiles: nil, // every table of each day (profiles.go), reported when 0 too
	}
	for _, day := range s.profiles.samples.allDays() {
		for _, prefix := range profileTablePrefixes() {
			tables[store.SignalProfiles] = append(tables[store.SignalProfiles], dayName(prefix, day))
		}
	}
	out := map[store.Signal]int64{}
	for signal, names := range tables {
		var blocks int64
		for _, table := range names {
			var n int64
			err := s.db.QueryRowContext(ctx,
				"SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE persistent AND block_id >= 0", table).Scan(&n)
			if err != nil {
				return nil, fmt.Errorf("disk bytes of %s: %w", table, err)
			}
			blocks += n
		}
		out[signal] = blocks * blockSize
	}
	return out, nil
}

// fileBytes returns the size of the database file and its WAL, for benchmarks.
func fileBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + ".wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
