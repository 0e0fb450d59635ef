package chruns

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes the table's TTL match the configured retention (see chsql.SetTTL).
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	return chsql.SetTTL(ctx, s.conn, s.schema, table, "toDateTime(intDiv(start_ns, 1000000000), 'UTC')", retention)
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
	ids, err := chsql.PartitionIDs(ctx, s.conn, s.schema.From(table), partitionKey, "start_ns < "+strconv.FormatInt(day.UnixNano(), 10))
	if err != nil {
		return fmt.Errorf("drop runs before %s: %w", cutoff, err)
	}
	for _, id := range ids {
		if err := chsql.DropPartition(ctx, s.conn, s.schema, table, id); err != nil {
			return fmt.Errorf("drop runs of partition %s: %w", id, err)
		}
		s.logger.Info("dropped run partition", "partition", id, "cutoff", cutoff)
	}
	return nil
}

// DiskBytes reports the bytes of the runs table's active parts, over every replica with a
// cluster. See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	n, err := chsql.DiskBytes(ctx, s.conn, s.schema, table)
	if err != nil {
		return nil, fmt.Errorf("runs disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalRuns: n}, nil
}
