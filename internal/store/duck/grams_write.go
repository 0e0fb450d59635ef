package duck

import (
	"context"
	"database/sql"
	"iter"

	"go.opentelemetry.io/collector/pdata/pcommon"
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
	rows      int64              // rows per block
	built     chan<- builtFilter // to the indexer; never waited on
	newFilter func() rowFilter
	days      map[int64]*openBlock
}

// rowFilter is a block filter the writer builds from the rows it commits.
type rowFilter interface {
	// add adds r and reports whether it could: when not (a body stored as JSON text,
	// which is not hashed here), the block is left to the indexer to read back.
	add(r *logRow) bool
	bytes() []byte
}

// gramRows builds the trigram filter of bodies (grams.go).
type gramRows struct{ f gramFilter }

func newGramRows() rowFilter { return &gramRows{newGramFilter()} }

func (g *gramRows) add(r *logRow) bool {
	b := r.lr.Body()
	switch b.Type() {
	case pcommon.ValueTypeStr:
		g.f.add(b.Str())
	case pcommon.ValueTypeEmpty:
	default:
		return false
	}
	return true
}

func (g *gramRows) bytes() []byte { return g.f }

// termRows builds the term filter of bodies and attributes (terms.go).
type termRows struct{ f *termFilter }

func newTermRows() rowFilter { return &termRows{newTermFilter()} }

func (t *termRows) add(r *logRow) bool {
	b := r.lr.Body()
	switch b.Type() {
	case pcommon.ValueTypeStr:
		t.f.addBody(b.Str())
	case pcommon.ValueTypeEmpty:
	default:
		return false
	}
	t.f.addAttrs(r.lr.Attributes())
	t.f.addResource(r.resID, r.res)
	return true
}

func (t *termRows) bytes() []byte { return t.f.bytes() }

// openBlock is one partition's block in progress.
type openBlock struct {
	count    int64 // rows in the partition
	first    int64 // first row of the block in progress
	filter   rowFilter
	complete bool // filter has every body from first to count
}

// builtFilter is a block's filter the writer built, for the indexer to store.
type builtFilter struct {
	day int64
	filterBlock
}

// newOpenBlocks returns the writer's side of ix: it builds the filters of the blocks the
// writer fills and hands them to ix over a channel of builtBacklog, which the indexer
// counts on (indexDay waits only for blocks that may still be in it).
func newOpenBlocks(ix *blockIndex, newFilter func() rowFilter) *openBlocks {
	built := make(chan builtFilter, builtBacklog)
	ix.built = built
	return &openBlocks{rows: ix.blockRows, built: built, newFilter: newFilter, days: map[int64]*openBlock{}}
}

// committed adds a committed batch's rows in day's partition, in the order they were
// appended.
func (o *openBlocks) committed(ctx context.Context, conn *sql.Conn, day int64, rows iter.Seq[*logRow]) {
	b := o.days[day]
	if b == nil {
		// First batch since startup or since a failed COMMIT: find where it starts. The
		// rows of the block in progress before it are not known here, so unless the batch
		// starts a block, that block is left to the indexer to read back.
		var start int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+dayName(logsSchema.prefix, day)).Scan(&start); err != nil {
			return // not tracked: the indexer reads these blocks back
		}
		for range rows {
			start--
		}
		first := (start / o.rows) * o.rows
		b = &openBlock{count: start, first: first, filter: o.newFilter(), complete: start == first}
		o.days[day] = b
	}
	// DuckDB keeps the rows of one appended chunk together, but a batch of several chunks
	// may get its chunks' rowids in another order than they were appended (seen: a batch
	// of 2,048 + 134 rows stored with the 134 first). So the blocks such a batch touches
	// are not known row by row: they are left to the indexer to read back, unless the
	// whole batch falls in one block.
	n := 0
	for range rows {
		n++
	}
	reordered := n > chunkRows && b.count/o.rows != (b.count+int64(n)-1)/o.rows
	if reordered {
		b.complete = false
	}
	i := 0
	for r := range rows {
		i++
		if !b.filter.add(r) {
			b.complete = false
		}
		b.count++
		if b.count == b.first+o.rows {
			if b.complete {
				select {
				case o.built <- builtFilter{day, filterBlock{first: b.first, last: b.count - 1, bloom: b.filter.bytes()}}:
				default: // the indexer is behind: it will read this block back
				}
			}
			b.first, b.filter, b.complete = b.count, o.newFilter(), !reordered || i == n
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
