package chruns

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes the table's TTL match the configured retention, at every start (retention
// is configuration, not schema). Existing parts are not rewritten.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	stmt := "ALTER TABLE {db}.runs{local}{on_cluster} REMOVE TTL"
	if retention > 0 {
		secs := strconv.FormatInt(int64(max(retention, time.Second)/time.Second), 10)
		stmt = "ALTER TABLE {db}.runs{local}{on_cluster} MODIFY TTL toDateTime(intDiv(start_ns, 1000000000), 'UTC') + INTERVAL " + secs + " SECOND"
	} else if has, err := s.hasTTL(ctx); err != nil || !has {
		return err
	}
	if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
		return fmt.Errorf("set TTL: %w", err)
	}
	return nil
}

// hasTTL reports whether the table has a TTL (REMOVE TTL fails on a table without one).
func (s *Store) hasTTL(ctx context.Context) (bool, error) {
	n, err := s.count(ctx, "SELECT count() FROM system.tables WHERE database = "+chsql.String(s.schema.Database)+
		" AND name = "+chsql.String(s.schema.Local(table))+" AND position(create_table_query, ' TTL ') > 0")
	return n > 0, err
}

func (s *Store) count(ctx context.Context, q string) (uint64, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// DropBefore drops the days of run start wholly before cutoff (runs that started on
// cutoff's own day stay). See store.Retainer.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalRuns {
		return nil
	}
	day := cutoff.UTC().Truncate(24 * time.Hour)
	// The partition ids are the values of the partition key (toYYYYMMDD gives 20261118),
	// computed rather than read from _partition_id, which a Distributed table may not pass.
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT "+partitionKey+" AS day FROM "+s.from()+
		" WHERE start_ns < "+strconv.FormatInt(day.UnixNano(), 10)+" ORDER BY day")
	if err != nil {
		return fmt.Errorf("drop runs before %s: %w", cutoff, err)
	}
	var ids []string
	for rows.Next() {
		var id uint32
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return fmt.Errorf("drop runs before %s: %w", cutoff, err)
		}
		ids = append(ids, strconv.FormatUint(uint64(id), 10))
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return fmt.Errorf("drop runs before %s: %w", cutoff, err)
	}
	for _, id := range ids {
		stmt := s.schema.Expand("ALTER TABLE {db}.runs{local}{on_cluster} DROP PARTITION ID ") + chsql.String(id)
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop runs of partition %s: %w", id, err)
		}
		s.logger.Info("dropped run partition", "partition", id, "cutoff", cutoff)
	}
	return nil
}

// DiskBytes reports the bytes of the runs table's active parts, over every replica with a
// cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	parts := "system.parts"
	if s.schema.Cluster != "" {
		parts = "clusterAllReplicas(" + chsql.String(s.schema.Cluster) + ", system.parts)"
	}
	n, err := s.count(ctx, "SELECT toUInt64(sum(bytes_on_disk)) FROM "+parts+
		" WHERE active AND database = "+chsql.String(s.schema.Database)+" AND table = "+chsql.String(s.schema.Local(table)))
	if err != nil {
		return nil, fmt.Errorf("runs disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalRuns: int64(n)}, nil
}
