package chmetrics

import (
	"context"
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// ttls are the TTL expressions of the tables, given the retention in seconds. A series
// row of day D serves the samples of D until the last of them expires, a day later.
var ttls = map[string]func(secs int64) string{
	samplesTable: func(secs int64) string {
		return fmt.Sprintf("toDateTime(intDiv(ts_ms, 1000)) + INTERVAL %d SECOND", secs)
	},
	seriesTable: func(secs int64) string { return fmt.Sprintf("toDateTime(day) + INTERVAL %d SECOND", secs+24*3600) },
}

// setTTL makes the tables' TTL match the configured retention, at every start: the
// retention is configuration, not schema, so it is not a migration. Existing parts are
// not rewritten (materialize_ttl_after_modify = 0): with ttl_only_drop_parts, expired
// parts are dropped whole as merges and the TTL check reach them.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	for _, table := range []string{seriesTable, samplesTable} {
		stmt := "ALTER TABLE {db}." + chsql.Ident(table) + "{local}{on_cluster} "
		if retention > 0 {
			stmt += "MODIFY TTL " + ttls[table](int64(max(retention, time.Second)/time.Second))
		} else if has, err := s.hasTTL(ctx, table); err != nil {
			return err
		} else if !has {
			continue
		} else {
			stmt += "REMOVE TTL"
		}
		if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
			return fmt.Errorf("set the TTL of %s: %w", table, err)
		}
	}
	return nil
}

// hasTTL reports whether table has a TTL (REMOVE TTL fails on a table without one).
func (s *Store) hasTTL(ctx context.Context, table string) (bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT count() FROM system.tables WHERE database = "+chsql.String(s.schema.Database)+
		" AND name = "+chsql.String(s.schema.Local(table))+" AND position(create_table_query, ' TTL ') > 0")
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return false, err
		}
	}
	return n > 0, rows.Err()
}

// DropBefore implements store.Retainer for metrics: it drops the days (partitions) of
// series and samples that end at or before cutoff. Other signals are not this store's.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalMetrics {
		return nil
	}
	last := cutoff.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1) // newest day wholly before cutoff
	for _, table := range []string{seriesTable, samplesTable} {
		days, err := s.partitions(ctx, s.schema.Local(table))
		if err != nil {
			return err
		}
		for _, d := range days {
			if d.After(last) {
				continue
			}
			q := s.schema.Expand("ALTER TABLE {db}." + chsql.Ident(table) + "{local}{on_cluster} DROP PARTITION " + chsql.String(d.Format(time.DateOnly)))
			if err := s.conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("drop metric partition %s of %s: %w", d.Format(time.DateOnly), table, err)
			}
		}
	}
	return nil
}

// parts is system.parts of every server of the cluster, or of the one server.
func (s *Store) parts() string {
	if s.schema.Cluster == "" {
		return "system.parts"
	}
	return "clusterAllReplicas(" + chsql.String(s.schema.Cluster) + ", system.parts)"
}

// partitions lists the days that have active parts in the local table.
func (s *Store) partitions(ctx context.Context, local string) ([]time.Time, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT partition FROM %s WHERE database = %s AND table = %s AND active ORDER BY partition",
		s.parts(), chsql.String(s.schema.Database), chsql.String(local)))
	if err != nil {
		return nil, fmt.Errorf("list metric partitions: %w", err)
	}
	defer rows.Close()
	var days []time.Time
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		d, err := time.Parse(time.DateOnly, p)
		if err != nil {
			return nil, fmt.Errorf("partition %q of %s is not a day: %w", p, local, err)
		}
		days = append(days, d)
	}
	return days, rows.Err()
}
