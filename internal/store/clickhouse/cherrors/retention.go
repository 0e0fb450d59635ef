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
	ids, err := chsql.PartitionIDs(ctx, s.conn, s.schema.From(eventsTable), eventsPartition, "ts_ns < "+dayNs)
	if err != nil {
		return fmt.Errorf("drop error events before %s: %w", cutoff, err)
	}
	for _, id := range ids {
		if err := chsql.DropPartition(ctx, s.conn, s.schema, eventsTable, id); err != nil {
			return fmt.Errorf("drop error events of partition %s: %w", id, err)
		}
		s.logger.Info("dropped error event partition", "partition", id, "cutoff", cutoff)
	}
	// The issues gone: last seen before the day. Lightweight deletes of their rows (the
	// stats and states are small tables: about a row per issue).
	gone := "issue_id IN (SELECT issue_id FROM " + s.schema.From(statsTable) + " GROUP BY issue_id HAVING max(last_seen) < " + dayNs + ")"
	for _, t := range []string{stateTable, statsTable} {
		stmt := s.schema.Expand("DELETE FROM {db}."+t+"{local}{on_cluster} WHERE ") + gone
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("delete issues last seen before %s: %w", cutoff, err)
		}
	}
	return nil
}

// setTTL makes error_events' TTL match the configured retention (see chsql.SetTTL).
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	return chsql.SetTTL(ctx, s.conn, s.schema, eventsTable, "toDateTime(intDiv(ts_ns, 1000000000), 'UTC')", retention)
}

// DiskBytes reports the bytes of the error tables' active parts (events, counters,
// states, releases), over every replica with a cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	n, err := chsql.DiskBytes(ctx, s.conn, s.schema, eventsTable, statsTable, stateTable, releasesTable)
	if err != nil {
		return nil, fmt.Errorf("errors disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalErrors: n}, nil
}
