package chsql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention helpers shared by the signal stores: a TTL in the table's definition (set from
// configuration at every start) and DropBefore by day partitions.

// TableTTL returns the TTL clause of the local table's definition (from " TTL " to its
// SETTINGS), or "" when it has none or the table does not exist.
func TableTTL(ctx context.Context, c Conn, s Schema, table string) (string, error) {
	rows, err := c.Query(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+
		String(s.Database)+" AND name = "+String(s.Local(table)))
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

// SetTTL makes the TTL of table ({db}.table{local}) `toDateTime(timeExpr) + INTERVAL keep`
// (keep in whole seconds, at least one), or removes it when keep is 0. The retention is
// configuration, not schema, so it is not a migration: it is checked at every start and
// altered only when it differs (an ALTER of a replicated table goes through Keeper, and
// several nodes start at once). Existing parts are not rewritten
// (materialize_ttl_after_modify = 0): with ttl_only_drop_parts in the DDL, expired parts
// are dropped whole as merges and the TTL check reach them. dateTime is an expression of
// type DateTime, e.g. "toDateTime(ts)".
func SetTTL(ctx context.Context, c Conn, s Schema, table, dateTime string, keep time.Duration) error {
	current, err := TableTTL(ctx, c, s, table)
	if err != nil {
		return fmt.Errorf("read TTL of %s: %w", table, err)
	}
	var stmt string
	if keep > 0 {
		secs := strconv.FormatInt(int64(max(keep, time.Second)/time.Second), 10)
		// ClickHouse keeps the TTL as toIntervalSecond(n) in the table's definition.
		if strings.Contains(current, "toIntervalSecond("+secs+")") {
			return nil
		}
		stmt = "ALTER TABLE {db}." + table + "{local}{on_cluster} MODIFY TTL " + dateTime + " + INTERVAL " + secs + " SECOND"
	} else {
		if current == "" {
			return nil
		}
		stmt = "ALTER TABLE {db}." + table + "{local}{on_cluster} REMOVE TTL"
	}
	if err := c.Exec(ctx, s.Expand(stmt)+" SETTINGS materialize_ttl_after_modify = 0"); err != nil {
		return fmt.Errorf("set TTL of %s: %w", table, err)
	}
	return nil
}

// PartitionIDs returns the ids of the partitions holding the rows of from (a table
// expression: the Distributed table with a cluster, so that every shard's are seen) that
// match where, in order. partitionKey is the table's partition key, a UInt32 such as
// toYYYYMMDD(ts), whose value is the partition id: it is computed rather than read from
// _partition_id, which a Distributed table may not pass through.
func PartitionIDs(ctx context.Context, c Conn, from, partitionKey, where string) ([]string, error) {
	rows, err := c.Query(ctx, "SELECT DISTINCT "+partitionKey+" AS day FROM "+from+" WHERE "+where+" ORDER BY day")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id uint32
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, strconv.FormatUint(uint64(id), 10))
	}
	return ids, rows.Err()
}

// DropPartition drops the partition id of table ({db}.table{local}, on every node of a
// cluster).
func DropPartition(ctx context.Context, c Conn, s Schema, table, id string) error {
	return c.Exec(ctx, s.Expand("ALTER TABLE {db}."+table+"{local}{on_cluster} DROP PARTITION ID ")+String(id))
}

// DiskBytes returns the bytes on disk of the active parts of the local tables, over every
// replica with a cluster (store.Sizer).
func DiskBytes(ctx context.Context, c Conn, s Schema, tables ...string) (int64, error) {
	parts := "system.parts"
	if s.Cluster != "" {
		parts = "clusterAllReplicas(" + String(s.Cluster) + ", system.parts)"
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = String(s.Local(t))
	}
	rows, err := c.Query(ctx, "SELECT toInt64(sum(bytes_on_disk)) FROM "+parts+" WHERE active AND database = "+
		String(s.Database)+" AND table IN ("+strings.Join(names, ", ")+")")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}
