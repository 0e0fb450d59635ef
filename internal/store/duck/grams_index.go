package duck

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// Body search index, part 2: building the filters and using them (grams.go has the
// filters themselves).
//
// Blocks are runs of gramBlockRows consecutive rowids of one logs partition. Rowids of a
// partition are dense and never change (rows are appended under one writer and never
// deleted; retention drops whole tables), so a block is fixed once its rows are committed.
// A background indexer reads the bodies of each full block back and stores its filter in
// log_grams; it runs after writes and at startup, so partitions written by an older Loupe
// are indexed too. Rows past the last full block (the tail, under gramBlockRows per
// partition) are always scanned. Nothing on the write path waits for the index.

const gramBlockRows = 32768

const logGramsDDL = `
CREATE TABLE IF NOT EXISTS log_grams (
	day INTEGER NOT NULL,
	first_row BIGINT NOT NULL,
	last_row BIGINT NOT NULL,
	bloom BLOB NOT NULL,
	PRIMARY KEY (day, first_row)
)`

// gramIndexer builds the filters of full blocks in the background.
type gramIndexer struct {
	db        *sql.DB
	logs      *signalTables
	cache     *gramCache
	logger    *slog.Logger
	blockRows int64

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// Only the indexer's goroutine (or catchUp called directly by a test) uses these.
	next map[int64]int64 // day -> first rowid not indexed yet
}

func newGramIndexer(db *sql.DB, logs *signalTables, cache *gramCache, logger *slog.Logger, blockRows int64) *gramIndexer {
	return &gramIndexer{db: db, logs: logs, cache: cache, logger: logger, blockRows: blockRows,
		wake: make(chan struct{}, 1), next: map[int64]int64{}}
}

// start runs the indexer until stop.
func (x *gramIndexer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel, x.done = cancel, make(chan struct{})
	go func() {
		defer close(x.done)
		for {
			x.catchUp(ctx)
			select {
			case <-ctx.Done():
				return
			case <-x.wake:
			}
		}
	}()
}

// notify tells the indexer that rows were committed. It never blocks.
func (x *gramIndexer) notify() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// stop cancels the indexer and waits for it. Safe to call when it was never started.
func (x *gramIndexer) stop() {
	if x.cancel != nil {
		x.cancel()
		<-x.done
	}
}

// catchUp indexes every full block not indexed yet, in every partition.
func (x *gramIndexer) catchUp(ctx context.Context) {
	days := x.logs.allDays()
	for d := range x.next {
		if !x.logs.hasDay(d) {
			delete(x.next, d) // dropped by retention
		}
	}
	for _, day := range days {
		if err := x.indexDay(ctx, day); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The partition may have been dropped meanwhile; either way its unindexed rows
			// are scanned by searches, so this costs speed, not results.
			x.logger.Warn("log search index: partition not indexed", "day", day, "err", err)
		}
	}
}

func (x *gramIndexer) indexDay(ctx context.Context, day int64) error {
	next, ok := x.next[day]
	if !ok {
		err := x.db.QueryRowContext(ctx,
			"SELECT coalesce(max(last_row) + 1, 0) FROM log_grams WHERE day = ?", day).Scan(&next)
		if err != nil {
			return fmt.Errorf("read index position: %w", err)
		}
		x.next[day] = next
	}
	table := dayName(x.logs.schema.prefix, day)
	var count int64
	if err := x.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&count); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	for count-next >= x.blockRows {
		last := next + x.blockRows - 1
		f, err := x.blockFilter(ctx, table, next, last)
		if err != nil {
			return err
		}
		if _, err := x.db.ExecContext(ctx, "INSERT INTO log_grams VALUES (?, ?, ?, ?)", day, next, last, []byte(f)); err != nil {
			return fmt.Errorf("store filter of rows %d-%d: %w", next, last, err)
		}
		x.cache.add(day, gramBlock{first: next, last: last, bloom: f})
		next = last + 1
		x.next[day] = next
	}
	return nil
}

// blockFilter reads the bodies of rows [first, last] of table and returns their filter.
func (x *gramIndexer) blockFilter(ctx context.Context, table string, first, last int64) (gramFilter, error) {
	rows, err := x.db.QueryContext(ctx, "SELECT body FROM "+table+" WHERE rowid BETWEEN ? AND ?", first, last)
	if err != nil {
		return nil, fmt.Errorf("read bodies: %w", err)
	}
	defer rows.Close()
	f := newGramFilter()
	var n int64
	var body string
	for rows.Next() {
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("read bodies: %w", err)
		}
		f.add(body)
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read bodies: %w", err)
	}
	if n != last-first+1 {
		// Rowids not dense after all: a filter would claim rows it never saw.
		return nil, fmt.Errorf("rows %d-%d: found %d bodies, want %d", first, last, n, last-first+1)
	}
	return f, nil
}

// gramBlock is one row of log_grams.
type gramBlock struct {
	first, last int64
	bloom       []byte
}

// gramCache keeps the filters of the partitions searched so far in memory: they never
// change once written, and reading them from DuckDB for every search cost more (~0.1 s
// for 10M records) than the search they save. They take about 0.25 B per record.
type gramCache struct {
	mu   sync.Mutex
	days map[int64][]gramBlock // loaded days only; blocks sorted and contiguous from row 0
}

// blocks returns the filters of day, loading them on first use.
func (c *gramCache) blocks(ctx context.Context, db *sql.DB, day int64) ([]gramBlock, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.days[day]; ok {
		return b, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT first_row, last_row, bloom FROM log_grams WHERE day = ? ORDER BY first_row", day)
	if err != nil {
		return nil, fmt.Errorf("read search index: %w", err)
	}
	defer rows.Close()
	var out []gramBlock
	for rows.Next() {
		var b gramBlock
		if err := rows.Scan(&b.first, &b.last, &b.bloom); err != nil {
			return nil, fmt.Errorf("read search index: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read search index: %w", err)
	}
	if c.days == nil {
		c.days = map[int64][]gramBlock{}
	}
	c.days[day] = out
	return out, nil
}

// add records a block the indexer has just stored. A day not loaded yet will read it
// from the table; a block the load already saw is not added twice.
func (c *gramCache) add(day int64, b gramBlock) {
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

// dropBefore forgets the days before cutoffDay.
func (c *gramCache) dropBefore(cutoffDay int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.days {
		if d < cutoffDay {
			delete(c.days, d)
		}
	}
}

// rowRange is an inclusive range of rowids; last < 0 means no upper end.
type rowRange struct{ first, last int64 }

// searchRanges returns the rowid ranges of the logs partition of day that the index
// cannot rule out for needles (the tail, unindexed, is always one), or nil when the index
// does not help: nothing to prune with, nothing indexed, or most blocks may match.
func (s *Store) searchRanges(ctx context.Context, day int64, needles bodyNeedles) ([]rowRange, error) {
	grams := needles.grams()
	if len(grams) == 0 {
		return nil, nil
	}
	blocks, err := s.gramCache.blocks(ctx, s.db, day)
	if err != nil || len(blocks) == 0 {
		return nil, err
	}
	var keep []rowRange
	matches := 0
	for _, b := range blocks {
		if !blockMayMatch(b.bloom, grams) {
			continue
		}
		matches++
		if n := len(keep); n > 0 && keep[n-1].last+1 == b.first {
			keep[n-1].last = b.last
		} else {
			keep = append(keep, rowRange{b.first, b.last})
		}
	}
	if matches*2 > len(blocks) || len(keep) > maxSearchRanges {
		return nil, nil
	}
	return append(keep, rowRange{blocks[len(blocks)-1].last + 1, -1}), nil
}

// maxSearchRanges bounds the UNION ALL handed to DuckDB; past it a plain scan is as good.
const maxSearchRanges = 64

// searchedTable returns what to read instead of the logs partition of day for needles:
// the table itself, or a UNION ALL of cols over its rowid ranges the index cannot rule
// out (pass "*, rowid AS rowid" to keep rowid). One
// range per branch, because DuckDB skips row groups for a rowid range but scanned
// everything for an OR of ranges next to other filters (measured on 10M records:
// ~50 ms against ~150-390 ms). Range bounds come from the database: safe to inline.
func (s *Store) searchedTable(ctx context.Context, day int64, cols string, needles bodyNeedles) (string, error) {
	table := dayName(s.logs.schema.prefix, day)
	ranges, err := s.searchRanges(ctx, day, needles)
	if err != nil || ranges == nil {
		return table, err
	}
	var b strings.Builder
	b.WriteString("(")
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT " + cols + " FROM " + table + " WHERE rowid ")
		if r.last < 0 {
			b.WriteString(">= " + strconv.FormatInt(r.first, 10))
		} else {
			b.WriteString("BETWEEN " + strconv.FormatInt(r.first, 10) + " AND " + strconv.FormatInt(r.last, 10))
		}
	}
	b.WriteString(")")
	return b.String(), nil
}

// unionAllSearched is unionAll over the logs partitions of days, each read through
// searchedTable.
func (s *Store) unionAllSearched(ctx context.Context, days []int64, cols string, needles bodyNeedles) (string, error) {
	var b strings.Builder
	b.WriteString("(")
	for i, d := range days {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		src, err := s.searchedTable(ctx, d, cols, needles)
		if err != nil {
			return "", err
		}
		b.WriteString("SELECT " + cols + " FROM " + src)
	}
	b.WriteString(")")
	return b.String(), nil
}

// dropGrams forgets the filters of days before cutoffDay; run by retention.
func dropGrams(ctx context.Context, conn *sql.Conn, cutoffDay int64) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM log_grams WHERE day < ?", cutoffDay); err != nil {
		return fmt.Errorf("prune log search index: %w", err)
	}
	return nil
}
