package chmetrics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// tables are the store's tables, the series first.
var tables = []string{seriesTable, samplesTable, exemplarsTable}

// ttl is the TTL expression of table for a retention of secs seconds, with its interval
// written as ClickHouse shows it in the table's definition (toIntervalSecond). A series
// row of day D serves the samples of D until the last of them expires, a day later.
func ttl(table string, secs int64) string {
	if table == seriesTable {
		return fmt.Sprintf("toDateTime(day) + toIntervalSecond(%d)", secs+24*3600)
	}
	// samples and exemplars
	return fmt.Sprintf("toDateTime(intDiv(ts_ms, 1000)) + toIntervalSecond(%d)", secs)
}

// setTTL makes the tables' TTL match the configured retention, at every start: the
// retention is configuration, not schema, so it is not a migration. A table is altered
// only when its TTL differs (on a cluster an ALTER goes through Keeper, for every node
// that starts). Existing parts are not rewritten (materialize_ttl_after_modify = 0): with
// ttl_only_drop_parts, expired parts are dropped whole as merges and the TTL check reach
// them.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	for _, table := range tables {
		ddl, err := s.createQuery(ctx, table)
		if err != nil {
			return err
		}
		has := strings.Contains(ddl, " TTL ")
		stmt := "ALTER TABLE {db}." + chsql.Ident(table) + "{local}{on_cluster} "
		switch want := ttl(table, int64(max(retention, time.Second)/time.Second)); {
		case retention > 0 && strings.Contains(ddl, " TTL "+want):
			continue
		case retention > 0:
			stmt += "MODIFY TTL " + want
		case !has:
			continue
		default:
			stmt += "REMOVE TTL"
		}
		if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
			return fmt.Errorf("set the TTL of %s: %w", table, err)
		}
	}
	return nil
}

// createQuery is the definition of table's local table, as ClickHouse shows it.
func (s *Store) createQuery(ctx context.Context, table string) (string, error) {
	rows, err := s.conn.Query(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+chsql.String(s.schema.Database)+
		" AND name = "+chsql.String(s.schema.Local(table)))
	if err != nil {
		return "", fmt.Errorf("read the definition of %s: %w", table, err)
	}
	defer rows.Close()
	var q string
	for rows.Next() {
		if err := rows.Scan(&q); err != nil {
			return "", err
		}
	}
	return q, rows.Err()
}

// DropBefore implements store.Retainer for metrics: it drops the days (partitions) of
// series and samples that end at or before cutoff. Other signals are not this store's.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalMetrics {
		return nil
	}
	last := cutoff.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1) // newest day wholly before cutoff
	for _, table := range tables {
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
	// The series rows of the dropped days are gone: a late sample for one of those days
	// must write its series row again, or it could not be found.
	lastDay := int32(last.Unix() / (24 * 3600))
	s.mu.Lock()
	defer s.mu.Unlock()
	for sd := range s.known {
		if sd.day <= lastDay {
			delete(s.known, sd)
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
