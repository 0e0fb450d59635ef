package chprofiles

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// setTTL makes every table's TTL match the configured retention (see chsql.SetTTL).
// Stacks and functions are kept a day longer than samples: their day_ns is the start of
// the day whose last samples expire a day after the first.
func (s *Store) setTTL(ctx context.Context, retention time.Duration) error {
	for _, t := range tables {
		keep := retention
		if keep > 0 && t.timeCol == "day_ns" {
			keep = max(keep, time.Second) + 24*time.Hour
		}
		if err := chsql.SetTTL(ctx, s.conn, s.schema, t.name, "toDateTime(intDiv("+t.timeCol+", 1000000000), 'UTC')", keep); err != nil {
			return err
		}
	}
	return nil
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
		ids, err := chsql.PartitionIDs(ctx, s.conn, s.schema.From(t.name), partitionKey(t.timeCol), t.timeCol+" < "+strconv.FormatInt(day, 10))
		if err != nil {
			return fmt.Errorf("drop profiles before %s: %w", cutoff, err)
		}
		for _, id := range ids {
			if err := chsql.DropPartition(ctx, s.conn, s.schema, t.name, id); err != nil {
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
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	n, err := chsql.DiskBytes(ctx, s.conn, s.schema, names...)
	if err != nil {
		return nil, fmt.Errorf("profiles disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalProfiles: n}, nil
}
