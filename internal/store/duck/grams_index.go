package duck

import (
	"context"
	"database/sql"
	"fmt"
)

// Body search index, part 2: the block index of log bodies (blockindex.go) with the
// trigram filters of grams.go.

// newBodyIndex returns the block index of log bodies, stored in log_grams.
func newBodyIndex(logs *signalTables, blockRows int64) *blockIndex {
	return newBlockIndex("log_grams", logs, blockRows, bodyFilter)
}

// bodyFilter reads the bodies of rows [first, last] of table and returns their trigram
// filter.
func bodyFilter(ctx context.Context, db *sql.DB, table string, first, last int64) ([]byte, error) {
	rows, err := db.QueryContext(ctx, "SELECT body FROM "+table+" WHERE rowid BETWEEN ? AND ?", first, last)
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
		return nil, fmt.Errorf("found %d bodies, want %d", n, last-first+1)
	}
	return f, nil
}

// searchRanges returns the rowid ranges of the logs partition of day that the body index
// cannot rule out for needles, or nil when it does not help (nothing to prune with,
// nothing indexed, or most blocks may match).
func (s *Store) searchRanges(ctx context.Context, day int64, needles bodyNeedles) ([]rowRange, error) {
	grams := needles.grams()
	if len(grams) == 0 {
		return nil, nil
	}
	return s.bodyIndex.candidates(ctx, s.db, day, 0.5, func(f []byte) bool { return blockMayMatch(f, grams) })
}

// searchedTable returns what to read instead of the logs partition of day for needles:
// the table itself, or the UNION ALL of cols over the ranges searchRanges keeps (pass
// "*, rowid AS rowid" as cols to keep rowid).
func (s *Store) searchedTable(ctx context.Context, day int64, cols string, needles bodyNeedles) (string, error) {
	ranges, err := s.searchRanges(ctx, day, needles)
	if err != nil {
		return "", err
	}
	return rangesSource(dayName(s.logs.schema.prefix, day), ranges, cols), nil
}

// unionAllSearched is unionAll over the logs partitions of days, each read through
// searchedTable.
func (s *Store) unionAllSearched(ctx context.Context, days []int64, cols string, needles bodyNeedles) (string, error) {
	return unionAllDays(days, cols, func(day int64) (string, error) { return s.searchedTable(ctx, day, cols, needles) })
}
