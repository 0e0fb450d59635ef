package chlogs

import (
	"context"
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes the table's TTL match the configured retention (see chsql.SetTTL).
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	return chsql.SetTTL(ctx, s.conn, s.schema, table, "toDateTime(ts)", retention)
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
	ids, err := chsql.PartitionIDs(ctx, s.conn, s.schema.From(table), "toYYYYMMDD(ts)", "ts < "+chsql.DateTime64(day))
	if err != nil {
		return fmt.Errorf("drop logs before %s: %w", cutoff, err)
	}
	for _, id := range ids {
		if err := chsql.DropPartition(ctx, s.conn, s.schema, table, id); err != nil {
			return fmt.Errorf("drop logs of partition %s: %w", id, err)
		}
		s.logger.Info("dropped log partition", "partition", id, "cutoff", cutoff)
	}
	return nil
}

// DiskBytes reports the bytes of the log table's active parts, over every replica with a
// cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	n, err := chsql.DiskBytes(ctx, s.conn, s.schema, table)
	if err != nil {
		return nil, fmt.Errorf("logs disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalLogs: n}, nil
}
