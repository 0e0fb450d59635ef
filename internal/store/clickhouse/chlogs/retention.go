package chlogs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes the table's TTL match the configured retention: the retention is
// configuration, not schema, so it is not a migration. It is checked at every start and
// changed only when it differs (an ALTER of a replicated table goes through Keeper, and
// several nodes start at once). Existing parts are not rewritten
// (materialize_ttl_after_modify = 0): with ttl_only_drop_parts, expired parts are dropped
// whole as merges and the TTL check reach them.
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
		stmt = "ALTER TABLE {db}.logs{local}{on_cluster} MODIFY TTL toDateTime(ts) + INTERVAL " + secs + " SECOND"
	} else {
		if current == "" {
			return nil
		}
		stmt = "ALTER TABLE {db}.logs{local}{on_cluster} REMOVE TTL"
	}
	if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
		return fmt.Errorf("set TTL: %w", err)
	}
	return nil
}

// ttl returns the TTL clause of the table's definition (from " TTL " to its SETTINGS), or
// "" when it has none.
func (s *Store) ttl(ctx context.Context) (string, error) {
	rows, err := s.conn.Query(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+
		chsql.String(s.schema.Database)+" AND name = "+chsql.String(s.schema.Local(table)))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var create string
	for rows.Next() {
		if err := rows.Scan(&create); err != nil {
			return "", err
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	_, clause, ok := strings.Cut(create, " TTL ")
	if !ok {
		return "", nil
	}
	clause, _, _ = strings.Cut(clause, " SETTINGS ")
	return clause, nil
}

// DropBefore drops the day partitions wholly before cutoff (records of cutoff's own day
// stay). See store.Retainer.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalLogs {
		return nil
	}
	day := cutoff.UTC().Truncate(24 * time.Hour)
	// The days before cutoff's, as partition ids: a Date partition key (toDate(ts)) has ids
	// YYYYMMDD. Found through the table (the Distributed one with a cluster) so that every
	// shard's days are seen; only the ts column of the old partitions is read.
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT toYYYYMMDD(ts) AS day FROM "+s.from()+
		" WHERE ts < "+chsql.DateTime64(day)+" ORDER BY day")
	if err != nil {
		return fmt.Errorf("drop logs before %s: %w", cutoff, err)
	}
	var ids []string
	for rows.Next() {
		var id uint32
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return fmt.Errorf("drop logs before %s: %w", cutoff, err)
		}
		ids = append(ids, strconv.FormatUint(uint64(id), 10))
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return fmt.Errorf("drop logs before %s: %w", cutoff, err)
	}
	_ = rows.Close()
	for _, id := range ids {
		stmt := s.schema.Expand("ALTER TABLE {db}.logs{local}{on_cluster} DROP PARTITION ID ") + chsql.String(id)
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop logs of partition %s: %w", id, err)
		}
		s.logger.Info("dropped log partition", "partition", id, "cutoff", cutoff)
	}
	return nil
}

// DiskBytes reports the bytes of the log table's active parts, over every replica with a
// cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	parts := "system.parts"
	if s.schema.Cluster != "" {
		parts = "clusterAllReplicas(" + chsql.String(s.schema.Cluster) + ", system.parts)"
	}
	rows, err := s.conn.Query(ctx, "SELECT toInt64(sum(bytes_on_disk)) FROM "+parts+
		" WHERE active AND database = "+chsql.String(s.schema.Database)+" AND table = "+chsql.String(s.schema.Local(table)))
	if err != nil {
		return nil, fmt.Errorf("logs disk bytes: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("logs disk bytes: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("logs disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalLogs: n}, nil
}
