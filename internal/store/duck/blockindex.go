package duck

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Block indexes: small filters over blocks of consecutive rows of a signal's day
// partitions, which let a query read only the blocks that may match. Logs have one for
// body search (grams.go, log_body_filters), spans one for trace ids (trace_filter.go,
// span_traces).
//
// Rowids of a partition are dense and never change (rows are appended under one writer
// and never deleted; retention drops whole tables), so a block of rowids is fixed once its
// rows are committed. A background indexer stores each full block's filter, built by the
// write path where it can (log bodies, grams_write.go) or by reading the block back; it
// runs after writes and at startup, so partitions written by an older Loupe get indexed
// too. Rows past the last full block (the tail, fewer than a block per
// partition) have no filter and are always read. Nothing on the write path waits.

const defaultBlockRows = 32768

// blockIndex is one kind of block filter over one signal's partitions.
type blockIndex struct {
	table     string   // where the filters are stored
	replaces  []string // older tables of the same index, dropped at startup
	parts     *signalTables
	blockRows int64
	// filter returns the filter of rows [first, last] of partition table, and must check
	// that it saw last-first+1 rows.
	filter func(ctx context.Context, db *sql.DB, table string, first, last int64) ([]byte, error)

	cache blockCache
	// built, when set, brings filters the write path built (grams_write.go), which
	// spare reading the block back.
	built     <-chan builtFilter
	readBacks atomic.Int64 // blocks whose filter was built by reading them back
	counts    atomic.Int64 // count(*) queries run on partitions (see dayIndex.rows)

	mu      sync.Mutex
	changed map[int64]bool // days with rows committed since the indexer last looked
	// added is the rows the writer reported committed per changed day, -1 when it could
	// not say (a failed COMMIT).
	added map[int64]int64

	days map[int64]*dayIndex // the indexer's own
}

// dayIndex is the indexer's state of one day partition.
type dayIndex struct {
	next     int64            // first rowid without a filter; -1 until read from the table
	prebuilt map[int64][]byte // the writer's filters by first row
	// waiting is the first row of a full block a round found without the writer's
	// filter, -1 for none: the writer hands a block over just after its commit, which
	// that round may have seen first, so it is read back only in a later round.
	waiting int64
	// rows is the partition's row count as of the last count(*) plus the rows the
	// writer reported since, -1 when unknown. It is never below the true count (a
	// commit reports its rows after it is visible), so while rows-next is less than a
	// block there is no full block to index and count(*) is not run: with batches of
	// 512 records that spared two queries per commit (~7% of the server's CPU).
	rows int64
}

func newBlockIndex(table string, parts *signalTables, blockRows int64,
	filter func(ctx context.Context, db *sql.DB, table string, first, last int64) ([]byte, error)) *blockIndex {
	if blockRows <= 0 {
		blockRows = defaultBlockRows
	}
	return &blockIndex{table: table, parts: parts, blockRows: blockRows, filter: filter,
		changed: map[int64]bool{}, added: map[int64]int64{}, days: map[int64]*dayIndex{}}
}

func (ix *blockIndex) ddl() string {
	drop := ""
	for _, t := range ix.replaces {
		drop += "DROP TABLE IF EXISTS " + t + "; "
	}
	return drop + `CREATE TABLE IF NOT EXISTS ` + ix.table + ` (
	day INTEGER NOT NULL,
	first_row BIGINT NOT NULL,
	last_row BIGINT NOT NULL,
	bloom BLOB NOT NULL,
	PRIMARY KEY (day, first_row)
)`
}

// day returns the indexer's state of day, creating it.
func (ix *blockIndex) day(day int64) *dayIndex {
	d := ix.days[day]
	if d == nil {
		d = &dayIndex{next: -1, prebuilt: map[int64][]byte{}, waiting: -1, rows: -1}
		ix.days[day] = d
	}
	return d
}

// markChanged records that rows[i] rows of days[i] were committed (rows nil: an unknown
// number). Safe for concurrent use.
func (ix *blockIndex) markChanged(days, rows []int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i, d := range days {
		ix.changed[d] = true
		switch n, seen := ix.added[d]; {
		case rows == nil || (seen && n < 0):
			ix.added[d] = -1
		default:
			ix.added[d] = n + rows[i]
		}
	}
}

// takeChanged returns the days marked since the last call, and the days with a block
// waiting for the writer's filter.
func (ix *blockIndex) takeChanged() []int64 {
	ix.mu.Lock()
	days := make([]int64, 0, len(ix.changed))
	for d := range ix.changed {
		days = append(days, d)
	}
	clear(ix.changed)
	added := ix.added
	ix.added = map[int64]int64{}
	ix.mu.Unlock()
	for d, n := range added {
		st := ix.day(d)
		if n < 0 || st.rows < 0 {
			st.rows = -1
		} else {
			st.rows += n
		}
	}
	for d, st := range ix.days {
		if st.waiting >= 0 && !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days
}

// indexDay stores the filters of the full blocks of day not indexed yet.
// It returns early, without error, once stopping reports true.
func (ix *blockIndex) indexDay(ctx context.Context, db *sql.DB, day int64, stopping func() bool) error {
	st := ix.day(day)
	if st.next < 0 {
		err := db.QueryRowContext(ctx,
			"SELECT coalesce(max(last_row) + 1, 0) FROM "+ix.table+" WHERE day = ?", day).Scan(&st.next)
		if err != nil {
			st.next = -1
			return fmt.Errorf("read index position: %w", err)
		}
	}
	if st.rows >= 0 && st.rows-st.next < ix.blockRows {
		return nil // no full block without a filter (see dayIndex.rows)
	}
	part := dayName(ix.parts.schema.prefix, day)
	var count int64
	ix.counts.Add(1)
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+part).Scan(&count); err != nil {
		st.rows = -1
		return fmt.Errorf("count rows: %w", err)
	}
	st.rows = count
	defer func() {
		for first := range st.prebuilt {
			if first < st.next {
				delete(st.prebuilt, first) // a position the index is past
			}
		}
	}()
	for count-st.next >= ix.blockRows && !stopping() {
		first, last := st.next, st.next+ix.blockRows-1
		f, ok := st.prebuilt[first]
		// Only the newest blocks can have a filter from the writer on its way (the
		// channel holds builtBacklog); older ones (an older layout, or rows written
		// before a restart) are read back at once, not one per round.
		recent := count-first <= builtBacklog*ix.blockRows
		if !ok && ix.built != nil && recent && st.waiting != first {
			st.waiting = first // read it back in a later round (the next commit's, or retryAfter from now)
			return nil
		}
		st.waiting = -1
		if !ok {
			var err error
			if f, err = ix.filter(ctx, db, part, first, last); err != nil {
				return fmt.Errorf("rows %d-%d: %w", first, last, err)
			}
			ix.readBacks.Add(1)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+ix.table+" VALUES (?, ?, ?, ?)", day, first, last, f); err != nil {
			return fmt.Errorf("store filter of rows %d-%d: %w", first, last, err)
		}
		ix.cache.add(day, filterBlock{first: first, last: last, bloom: f})
		st.next = last + 1
	}
	return nil
}

// receive moves the filters waiting in built into the days' prebuilt filters.
func (ix *blockIndex) receive() {
	for {
		select {
		case b := <-ix.built:
			if b.last-b.first+1 == ix.blockRows {
				ix.day(b.day).prebuilt[b.first] = b.bloom
			}
		default:
			return
		}
	}
}

// dropBefore forgets the filters of days before cutoffDay; retention runs it on the
// writer connection of the partitions.
func (ix *blockIndex) dropBefore(ctx context.Context, conn *sql.Conn, cutoffDay int64) error {
	ix.cache.dropBefore(cutoffDay)
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+ix.table+" WHERE day < ?", cutoffDay); err != nil {
		return fmt.Errorf("prune %s: %w", ix.table, err)
	}
	return nil
}

// rowRange is an inclusive range of rowids; last < 0 means no upper end.
type rowRange struct{ first, last int64 }

// candidates returns the rowid ranges of the partition of day whose filters mayMatch,
// with the tail, or nil when the filters do not help: nothing indexed, or more than
// maxShare of the blocks may match (a plain scan then costs no more).
func (ix *blockIndex) candidates(ctx context.Context, db *sql.DB, day int64, maxShare float64, mayMatch func(filter []byte) bool) ([]rowRange, error) {
	keep, blocks, err := ix.matching(ctx, db, day, mayMatch)
	if err != nil || keep == nil {
		return nil, err
	}
	matches := int64(0)
	for _, r := range keep[:len(keep)-1] {
		matches += (r.last - r.first + 1) / ix.blockRows
	}
	if float64(matches) > maxShare*float64(blocks) || len(keep) > maxCandidateRanges {
		return nil, nil
	}
	return keep, nil
}

// matching returns the rowid ranges of the blocks of day whose filters mayMatch, then the
// tail (the rows past the last filter, an open range), and how many blocks have filters;
// nil when none has.
func (ix *blockIndex) matching(ctx context.Context, db *sql.DB, day int64, mayMatch func(filter []byte) bool) ([]rowRange, int, error) {
	blocks, err := ix.cache.blocks(ctx, db, ix.table, day)
	if err != nil || len(blocks) == 0 {
		return nil, 0, err
	}
	var keep []rowRange
	for _, b := range blocks {
		if !mayMatch(b.bloom) {
			continue
		}
		if n := len(keep); n > 0 && keep[n-1].last+1 == b.first {
			keep[n-1].last = b.last
		} else {
			keep = append(keep, rowRange{b.first, b.last})
		}
	}
	return append(keep, rowRange{blocks[len(blocks)-1].last + 1, -1}), len(blocks), nil
}

// maxCandidateRanges bounds the UNION ALL handed to DuckDB.
const maxCandidateRanges = 64

// rangesSource returns a UNION ALL of cols of table over ranges, or table itself when
// ranges is nil (pass "*, rowid AS rowid" as cols to keep rowid). One range per branch,
// because DuckDB skips row groups for one rowid range but scanned everything for an OR of
// ranges next to other filters (measured on 10M log records: ~50 ms against
// ~150-390 ms). Range bounds come from the database: safe to inline.
func rangesSource(table string, ranges []rowRange, cols string) string {
	if ranges == nil {
		return table
	}
	branches := make([]string, len(ranges))
	for i, r := range ranges {
		branches[i] = "SELECT " + cols + " FROM " + table + " WHERE " + r.cond()
	}
	return "(" + strings.Join(branches, " UNION ALL ") + ")"
}

// rangesCond returns a condition keeping the rowids of ranges ("" when ranges is nil).
// For a lookup by one column (trace by id) it cost less than rangesSource's UNION ALL
// (one scan instead of one per range: 6-9 against 9-10 ms on 10M spans), but DuckDB does
// not skip row groups for it next to other filters (see rangesSource).
func rangesCond(ranges []rowRange) string {
	if ranges == nil {
		return ""
	}
	conds := make([]string, len(ranges))
	for i, r := range ranges {
		conds[i] = r.cond()
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// cond returns the condition on rowid that keeps r.
func (r rowRange) cond() string {
	if r.last < 0 {
		return "rowid >= " + strconv.FormatInt(r.first, 10)
	}
	return "rowid BETWEEN " + strconv.FormatInt(r.first, 10) + " AND " + strconv.FormatInt(r.last, 10)
}

// unionAllDays is unionAll of cols over one source per day, from source.
func unionAllDays(days []int64, cols string, source func(day int64) (string, error)) (string, error) {
	branches := make([]string, len(days))
	for i, d := range days {
		src, err := source(d)
		if err != nil {
			return "", err
		}
		branches[i] = "SELECT " + cols + " FROM " + src
	}
	return "(" + strings.Join(branches, " UNION ALL ") + ")", nil
}

// filterBlock is one stored filter.
type filterBlock struct {
	first, last int64
	bloom       []byte
}

// blockCache keeps the filters of the days queried so far in memory: they never change
// once written, and reading them from DuckDB for every query cost more (~0.1 s for the
// 305 filters of 10M log records) than the scan they save.
type blockCache struct {
	mu   sync.Mutex
	days map[int64][]filterBlock // loaded days only; sorted and contiguous from row 0
}

// blocks returns the filters of day, loading them from table on first use.
func (c *blockCache) blocks(ctx context.Context, db *sql.DB, table string, day int64) ([]filterBlock, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.days[day]; ok {
		return b, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT first_row, last_row, bloom FROM "+table+" WHERE day = ? ORDER BY first_row", day)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	var out []filterBlock
	for rows.Next() {
		var b filterBlock
		if err := rows.Scan(&b.first, &b.last, &b.bloom); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	if c.days == nil {
		c.days = map[int64][]filterBlock{}
	}
	c.days[day] = out
	return out, nil
}

// add records a filter the indexer has just stored. A day not loaded yet will read it
// from the table; a filter the load already saw is not added twice.
func (c *blockCache) add(day int64, b filterBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	blocks, ok := c.days[day]
	if !ok {
		return
	}
	next := int64(0)
	if n := len(blocks); n > 0 {
		next = blocks[n-1].last + 1
	}
	if b.first == next {
		c.days[day] = append(blocks, b)
	}
}

func (c *blockCache) dropBefore(cutoffDay int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.days {
		if d < cutoffDay {
			delete(c.days, d)
		}
	}
}

// blockIndexer builds the filters of every block index in one background goroutine.
type blockIndexer struct {
	db      *sql.DB
	logger  *slog.Logger
	indexes []*blockIndex
	guard   *diskGuard // no filters are stored on a nearly full disk; nil for none

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newBlockIndexer(db *sql.DB, logger *slog.Logger, indexes ...*blockIndex) *blockIndexer {
	return &blockIndexer{db: db, logger: logger, indexes: indexes, wake: make(chan struct{}, 1)}
}

// start runs the indexer until stop.
func (x *blockIndexer) start() {
	x.quit, x.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(x.done)
		// Database calls get a context that is never cancelled: an interrupted DuckDB
		// statement could leave a transaction open, which makes the checkpoint at Close
		// fail. stop waits for the block in hand instead (tens of milliseconds).
		ctx := context.Background()
		all := !x.catchUp(ctx, true) // until a startup round ran
		if !x.stopping() {
			x.warm(ctx)
		}
		for {
			var retry <-chan time.Time
			if x.waiting() {
				retry = time.After(retryAfter)
			}
			select {
			case <-x.quit:
				return
			case <-x.wake:
			case <-retry:
			}
			if !x.catchUp(ctx, all) {
				continue
			}
			all = false
		}
	}()
}

// builtBacklog is the capacity of the channels bringing the writer's filters (made by
// newOpenBlocks).
const builtBacklog = 16

// retryAfter is how long the indexer waits for the writer's filters of full blocks before
// it reads them back, when no commit wakes it sooner.
const retryAfter = time.Second

// waiting reports whether an index has a full block waiting for the writer's filter.
func (x *blockIndexer) waiting() bool {
	for _, ix := range x.indexes {
		for _, st := range ix.days {
			if st.waiting >= 0 {
				return true
			}
		}
	}
	return false
}

func (x *blockIndexer) stopping() bool {
	select {
	case <-x.quit:
		return true
	default:
		return false
	}
}

// warm loads the filters of each index's newest day into memory, where most queries
// look: reading them cost ~1 ms per filter (0.1-0.2 s for a day of 5-10M items), which
// would otherwise fall on the first query after a restart.
func (x *blockIndexer) warm(ctx context.Context) {
	for _, ix := range x.indexes {
		if days := ix.parts.allDays(); len(days) > 0 {
			if _, err := ix.cache.blocks(ctx, x.db, ix.table, days[len(days)-1]); err != nil {
				x.logger.Warn("block index: filters not loaded", "index", ix.table, "err", err)
			}
		}
	}
}

// notify tells the indexer that rows of days were committed to ix's partitions. It never
// blocks.
func (x *blockIndexer) notify(ix *blockIndex, days, rows []int64) {
	ix.markChanged(days, rows)
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// stop stops the indexer and waits for it. Safe to call when it was never started.
func (x *blockIndexer) stop() {
	if x.quit != nil {
		close(x.quit)
		<-x.done
		x.quit = nil
	}
}

// catchUp indexes every full block without a filter: in every partition when all is
// set (at startup), else in the partitions with new rows or a block waiting. Past days do
// not change, so they are not counted again after every commit.
func (x *blockIndexer) catchUp(ctx context.Context, all bool) (ran bool) {
	// On a nearly full disk nothing is stored (the days stay marked): writes are refused
	// then too, and the next write once space is freed wakes the indexer again.
	if _, _, ok := x.guard.room(); !ok {
		return false
	}
	for _, ix := range x.indexes {
		ix.receive()
		for d := range ix.days {
			if !ix.parts.hasDay(d) {
				delete(ix.days, d) // dropped by retention
			}
		}
		days := ix.takeChanged()
		if all {
			days = ix.parts.allDays()
		}
		for _, day := range days {
			if x.stopping() {
				return
			}
			if !ix.parts.hasDay(day) {
				continue
			}
			if err := ix.indexDay(ctx, x.db, day, x.stopping); err != nil {
				// The partition may have been dropped meanwhile; either way its rows
				// without a filter are read by every query, so this costs speed, not
				// results.
				x.logger.Warn("block index: partition not indexed", "index", ix.table, "day", day, "err", err)
			}
		}
	}
	return true
}
