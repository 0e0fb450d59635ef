package chprofiles

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes every table's TTL match the configured retention: the retention is
// configuration, not schema, so it is not a migration. It is checked at every start and
// changed only when it differs (an ALTER of a replicated table goes through Keeper, and
// several nodes start at once). Existing parts are not rewritten. Stacks and functions
// are kept a day longer than samples: their day_ns is the start of the day whose last
// samples expire a day after the first.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	for _, t := range tables {
		current, err := s.ttl(ctx, t.name)
		if err != nil {
			return fmt.Errorf("read TTL of %s: %w", t.name, err)
		}
		var stmt string
		if retention > 0 {
			secs := int64(max(retention, time.Second) / time.Second)
			if t.timeCol == "day_ns" {
				secs += int64(24 * time.Hour / time.Second)
			}
			n := strconv.FormatInt(secs, 10)
			// ClickHouse keeps the TTL as toIntervalSecond(n) in the table's definition.
			if strings.Contains(current, "toIntervalSecond("+n+")") {
				continue
			}
			stmt = "ALTER TABLE {db}." + t.name + "{local}{on_cluster} MODIFY TTL toDateTime(intDiv(" + t.timeCol +
				", 1000000000), 'UTC') + INTERVAL " + n + " SECOND"
		} else {
			if current == "" {
				continue
			}
			stmt = "ALTER TABLE {db}." + t.name + "{local}{on_cluster} REMOVE TTL"
		}
		if err := s.conn.Exec(ctx, s.schema.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
			return fmt.Errorf("set TTL of %s: %w", t.name, err)
		}
	}
	return nil
}

// ttl returns the TTL clause of a table's definition, or "" when it has none.
func (s *Store) ttl(ctx context.Context, table string) (string, error) {
	defs, err := s.listStrings(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+
		chsql.String(s.schema.Database)+" AND name = "+chsql.String(s.schema.Local(table)))
	if err != nil || len(defs) == 0 {
		return "", err
	}
	_, clause, ok := strings.Cut(defs[0], " TTL ")
	if !ok {
		return "", nil
	}
	clause, _, _ = strings.Cut(clause, " SETTINGS ")
	return clause, nil
}

// DropBefore drops the days of profile time wholly before cutoff's day, in every table.
// See store.Retainer.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalProfiles {
		return nil
	}
	day := nsOf(cutoff.UTC().Truncate(24*time.Hour), minTime)
	for _, t := range tables {
		// The partition ids are the values of the partition key, computed rather than read
		// from _partition_id, which a Distributed table may not pass through.
		var ids []string
		err := s.query(ctx, "SELECT DISTINCT "+partitionKey(t.timeCol)+" AS d FROM "+s.from(t.name)+
			" WHERE "+t.timeCol+" < "+strconv.FormatInt(day, 10)+" ORDER BY d", func(scan func(...any) error) error {
			var id uint32
			if err := scan(&id); err != nil {
				return err
			}
			ids = append(ids, strconv.FormatUint(uint64(id), 10))
			return nil
		})
		if err != nil {
			return fmt.Errorf("drop profiles before %s: %w", cutoff, err)
		}
		for _, id := range ids {
			stmt := s.schema.Expand("ALTER TABLE {db}."+t.name+"{local}{on_cluster} DROP PARTITION ID ") + chsql.String(id)
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("drop partition %s of %s: %w", id, t.name, err)
			}
			s.logger.Info("dropped profile partition", "table", t.name, "partition", id, "cutoff", cutoff)
		}
	}
	// A late profile of a dropped day must write its stacks and functions again.
	s.forgetBefore(day)
	return nil
}

// DiskBytes reports the bytes of the profile tables' active parts, over every replica
// with a cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	parts := "system.parts"
	if s.schema.Cluster != "" {
		parts = "clusterAllReplicas(" + chsql.String(s.schema.Cluster) + ", system.parts)"
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = chsql.String(s.schema.Local(t.name))
	}
	var n uint64
	err := s.query(ctx, "SELECT toUInt64(sum(bytes_on_disk)) FROM "+parts+" WHERE active AND database = "+
		chsql.String(s.schema.Database)+" AND table IN ("+strings.Join(names, ", ")+")", func(scan func(...any) error) error {
		return scan(&n)
	})
	if err != nil {
		return nil, fmt.Errorf("profiles disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalProfiles: int64(n)}, nil
}
