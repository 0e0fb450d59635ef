package chmetrics

import (
	"context"
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// tables are the store's tables, the series first.
var tables = []string{seriesTable, samplesTable, exemplarsTable}

// setTTL makes the tables' TTL match the configured retention (chsql.SetTTL). A series
// row of day D serves the samples of D until the last of them expires, a day later.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	for _, table := range tables {
		timeExpr, keep := "toDateTime(intDiv(ts_ms, 1000))", retention // samples and exemplars
		if table == seriesTable {
			timeExpr = "toDateTime(day)"
			if retention > 0 {
				keep = max(retention, time.Second) + 24*time.Hour
			}
		}
		if err := chsql.SetTTL(ctx, s.conn, s.schema, table, timeExpr, keep); err != nil {
			return err
		}
	}
	return nil
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
