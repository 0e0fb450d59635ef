package cherrors

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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

// setTTL makes error_events' TTL match the configured retention (configuration, not
// schema: checked at every start, altered only when it differs, as chlogs does). Existing
// parts are not rewritten; with ttl_only_drop_parts, expired parts are dropped whole.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	current, err := s.ttl(ctx)
	if err != nil {
		return fmt.Errorf("read TTL: %w", err)
	}
	var stmt string
	if retention > 0 {
		secs := strconv.FormatInt(int64(max(retention, time.Second)/time.Second), 10)
		// ClickHouse keeps the TTL as toIntervalSecond(n) in the table's definition.
		if strings.Contains(current, "toIntervalSecond("+secs+")") {
			return nil
		}
		stmt = "ALTER TABLE {db}.error_events{local}{on_cluster} MODIFY TTL toDateTime(intDiv(ts_ns, 1000000000), 'UTC') + INTERVAL " + secs + " SECOND"
	} else {
		if current == "" {
			return nil
		}
		stmt = "ALTER TABLE {db}.error_events{local}{on_cluster} REMOVE TTL"
	}
	if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
		return fmt.Errorf("set TTL: %w", err)
	}
	return nil
}

// ttl returns the TTL clause of error_events' definition, or "" when it has none.
func (s *Store) ttl(ctx context.Context) (string, error) {
	var create string
	err := s.scan(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+
		chsql.String(s.schema.Database)+" AND name = "+chsql.String(s.schema.Local(eventsTable)), func(r chsql.Rows) error {
		return r.Scan(&create)
	})
	if err != nil {
		return "", err
	}
	_, clause, ok := strings.Cut(create, " TTL ")
	if !ok {
		return "", nil
	}
	clause, _, _ = strings.Cut(clause, " SETTINGS ")
	return clause, nil
}

// DiskBytes reports the bytes of the error tables' active parts (events, counters,
// states, releases), over every replica with a cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	parts := "system.parts"
	if s.schema.Cluster != "" {
		parts = "clusterAllReplicas(" + chsql.String(s.schema.Cluster) + ", system.parts)"
	}
	var tables []string
	for _, t := range []string{eventsTable, statsTable, stateTable, releasesTable} {
		tables = append(tables, s.schema.Local(t))
	}
	var n uint64
	err := s.scan(ctx, "SELECT toUInt64(sum(bytes_on_disk)) FROM "+parts+" WHERE active AND database = "+
		chsql.String(s.schema.Database)+" AND table IN "+inList(tables), func(r chsql.Rows) error { return r.Scan(&n) })
	if err != nil {
		return nil, fmt.Errorf("errors disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalErrors: int64(n)}, nil
}
