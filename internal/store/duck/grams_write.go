package duck

import (
	"context"
	"database/sql"
	"iter"
)

// Body search index, part 3: the write path's share. The indexer could read every block's
// bodies back from DuckDB (bodyFilter), but that cost ~1.15 µs per record (backfilling
// 10M records took 11.5 CPU-s), against ~9-12 µs per ingested record. Instead the
// writer adds the bodies of each committed batch to the filter of its partition's block in
// progress and hands the indexer each block it completes; the indexer reads back only the
// blocks it got no filter for (written by an older Loupe, in progress at a restart, with
// non-string bodies, or dropped from a full hand-over queue). Hashing costs ~3 ns per body
// byte on the writer.

// openBlocks is the filter of the block in progress of each logs partition. Used only
// under the logs writeMu (writeBatch's settled callback and retention), so its row counts
// follow every batch of a partition, in order.
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
	b := o.days[day]
	if b == nil {
		// First batch since startup or since a failed COMMIT: find where it starts. The
		// rows of the block in progress before it are not known here, so unless the batch
		// starts a block, that block is left to the indexer to read back.
		var start int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+dayName(logsSchema.prefix, day)).Scan(&start); err != nil {
			return // not tracked: the indexer reads these blocks back
		}
		for range bodies {
			start--
		}
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

// forget drops what is known of days after a COMMIT that reported an error: it may still
// have committed, and a wrong row count would give later filters the wrong rows. The next
// batch of each day counts the rows again.
func (o *openBlocks) forget(days []int64) {
	for _, d := range days {
		delete(o.days, d)
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
