package duck

import (
	"context"
	"database/sql"
	"iter"
)

// Body search index, part 3: the write path's share. The indexer could read every block's
// bodies back from DuckDB (bodyFilter), but that cost ~1 µs per record, ~10% of log
// ingest. Instead the writer adds the bodies of each committed batch to the filter of
// its partition's block in progress and hands the indexer each block it completes; the
// indexer reads back only the blocks it got no filter for (written by an older Loupe,
// in progress at a restart, with non-string bodies, or dropped from a full hand-over
// queue). Hashing costs ~3 ns per body byte on the writer.

// openBlocks is the filter of the block in progress of each logs partition. Used only
// under the logs writeMu (writeBatch's committed callback and retention), so no other
// batch commits between a batch's COMMIT and its call of committed.
type openBlocks struct {
	rows  int64              // rows per block
	built chan<- builtFilter // to the indexer; never waited on
	days  map[int64]*openBlock
}

// openBlock is one partition's block in progress.
type openBlock struct {
	count    int64 // rows in the partition
	first    int64 // first row of the block in progress
	filter   gramFilter
	complete bool // filter has every body from first to count
}

// builtFilter is a block's filter the writer built, for the indexer to store.
type builtFilter struct {
	day int64
	filterBlock
}

func newOpenBlocks(rows int64, built chan<- builtFilter) *openBlocks {
	return &openBlocks{rows: rows, built: built, days: map[int64]*openBlock{}}
}

// committed adds the bodies of a committed batch's rows in day's partition, in the order
// they were appended (ok false: a body stored as JSON text, which is not hashed here).
func (o *openBlocks) committed(ctx context.Context, conn *sql.Conn, day int64, bodies iter.Seq2[string, bool]) {
	// Where the batch starts, from the partition's row count (one cheap query per
	// batch) rather than from counting batches: a COMMIT that reported an error may
	// still have committed, and a wrong start would give filters the wrong rows.
	var start int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+dayName(logsSchema.prefix, day)).Scan(&start); err != nil {
		delete(o.days, day) // the indexer reads these blocks back
		return
	}
	for range bodies {
		start--
	}
	b := o.days[day]
	if b == nil || b.count != start {
		// First batch since startup, or rows this filter did not see: unless the
		// batch starts a block, the block in progress is left to the indexer to read back.
		first := (start / o.rows) * o.rows
		b = &openBlock{count: start, first: first, filter: newGramFilter(), complete: start == first}
		o.days[day] = b
	}
	for body, ok := range bodies {
		if ok {
			b.filter.add(body)
		} else {
			b.complete = false
		}
		b.count++
		if b.count == b.first+o.rows {
			if b.complete {
				select {
				case o.built <- builtFilter{day, filterBlock{first: b.first, last: b.count - 1, bloom: b.filter}}:
				default: // the indexer is behind: it will read this block back
				}
			}
			b.first, b.filter, b.complete = b.count, newGramFilter(), true
		}
	}
}

// dropBefore forgets the partitions before cutoffDay.
func (o *openBlocks) dropBefore(cutoffDay int64) {
	for d := range o.days {
		if d < cutoffDay {
			delete(o.days, d)
		}
	}
}
