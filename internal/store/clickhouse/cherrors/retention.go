package cherrors

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// eventsPartition is the day of an event, as a number (20261120): the partition ids.
const eventsPartition = "toYYYYMMDD(fromUnixTimestamp64Nano(ts_ns, 'UTC'))"

// DropBefore drops the days of events wholly before cutoff (events of cutoff's own day
// stay), then the issues whose last event is before that day: their counters and states.
// The counters of the other issues keep counting the dropped events (they count since
// first seen, as the embedded store's). See store.Retainer.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalErrors {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	day := cutoff.UTC().Truncate(24 * time.Hour).UnixNano()
	dayNs := strconv.FormatInt(day, 10)
	// The partition ids are computed rather than read from _partition_id, which a
	// Distributed table may not pass through (as chlogs and chruns).
	var ids []string
	err := s.scan(ctx, "SELECT DISTINCT "+eventsPartition+" AS day FROM "+s.from(eventsTable)+
		" WHERE ts_ns < "+dayNs+" ORDER BY day", func(r chsql.Rows) error {
		var id uint32
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, strconv.FormatUint(uint64(id), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop error events before %s: %w", cutoff, err)
	}
	for _, id := range ids {
		stmt := s.schema.Expand("ALTER TABLE {db}.error_events{local}{on_cluster} DROP PARTITION ID ") + chsql.String(id)
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop error events of partition %s: %w", id, err)
		}
		s.logger.Info("dropped error event partition", "partition", id, "cutoff", cutoff)
	}
	// The issues gone: last seen before the day. Lightweight deletes of their rows (the
	// stats and states are small tables: about a row per issue).
	gone := "issue_id IN (SELECT issue_id FROM " + s.from(statsTable) + " GROUP BY issue_id HAVING max(last_seen) < " + dayNs + ")"
	for _, t := range []string{stateTable, statsTable} {
		stmt := s.schema.Expand("DELETE FROM {db}."+t+"{local}{on_cluster} WHERE ") + gone
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("delete issues last seen before %s: %w", cutoff, err)
		}
	}
	return nil
}
