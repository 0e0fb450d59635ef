package duck

import (
	"context"
	"database/sql"
	"fmt"
)

// Body search index, part 2: the block index of log bodies (blockindex.go) with the
// trigram filters of grams.go.

// newBodyIndex returns the block index of log bodies, stored in log_body_filters. It
// replaces log_grams, whose writer-built filters of blocks straddled by a batch of several
// chunks may hold the wrong rows (fixed in grams_write.go): the indexer rebuilds them by
// reading the blocks back.
func newBodyIndex(logs *signalTables, blockRows int64) *blockIndex {
	ix := newBlockIndex("log_body_filters", logs, blockRows, bodyFilter)
	ix.replaces = []string{"log_grams"}
	return ix
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
